import { catalog, type QueueContract } from '@jobfleet/queue-contracts';
import { startRedisServer, useTestRedis } from '@jobfleet/test-utils';
import { type JobsOptions, Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { jobPreparer } from '../src/enqueue-jobs.js';
import { type JobToAdd, JobWriter } from '../src/job-writer.js';
import { GatewayQueues } from '../src/queues.js';
import { isRedisFull } from '../src/redis-availability.js';
import { EVERY_JOB, inspectQueue, memoryLogger } from './helpers.js';

const redis = useTestRedis();
/** One plain connection per test, to read what the writers wrote. */
let admin: ReturnType<typeof redis.connection>;
const contracts = catalog as unknown as Record<string, QueueContract>;
const principal = { id: 'svc', tenant: 'acme', scopes: new Set<string>(), rateLimit: undefined } as never;

/** A job as Redis holds it, without what differs between two adds: the timestamp. */
async function stored(queue: Queue, id: string) {
  const { timestamp, ...fields } = await admin.hgetall(queue.toKey(id));
  return { fields, timestamp: Number(timestamp) };
}

/** The events stream without ids: what a QueueEvents listener sees. */
async function events(queue: Queue) {
  const entries = await admin.xrange(queue.keys.events as string, '-', '+');
  return entries.map(([, fields]) => fields);
}

/** A script call as Redis saw it: the script's SHA and how many jobs' arguments (three each) it carried. */
interface Call {
  command: string;
  sha: string;
  jobs: number;
}

/**
 * The calls that reach Redis for keys under `prefix` while `work` runs (the
 * calls themselves, not the commands their scripts run).
 */
async function callsDuring(prefix: string, work: () => Promise<unknown>): Promise<Call[]> {
  const monitor = await redis.connection().monitor();
  const calls: Call[] = [];
  const end = `${prefix}:end`;
  const ended = new Promise<void>((resolve) => {
    monitor.on('monitor', (_time: string, args: string[], source: string) => {
      if (args.includes(end)) resolve();
      else if (source !== 'lua' && args.some((arg) => arg.startsWith(`${prefix}:`))) {
        const [command, sha, keys] = args as [string, string, string];
        calls.push({ command: command.toLowerCase(), sha, jobs: (args.length - 3 - Number(keys)) / 3 });
      }
    });
  });
  await work();
  await admin.get(end);
  await ended;
  await monitor.disconnect();
  return calls;
}

let queues: Queue[] = [];
const open = (name: string, prefix: string) => {
  const queue = inspectQueue({ ...redis, prefix } as typeof redis, name);
  queues.push(queue);
  return queue;
};
beforeEach(() => {
  queues = [];
  admin = redis.connection();
});
afterEach(async () => {
  await Promise.all(queues.map((queue) => queue.close()));
});

describe('JobWriter', () => {
  it("adds a standard job with a principal's shared options as BullMQ's queue.add does, field by field", async () => {
    for (const [i, { queue: name, name: jobName, data }] of EVERY_JOB.entries()) {
      const contract = contracts[name] as QueueContract;
      const ours = open(name, `${redis.prefix}-ours-${i}`);
      const theirs = open(name, `${redis.prefix}-theirs-${i}`);
      const writer = new JobWriter(ours, Object.keys(contract.jobs), { telemetry: false });
      const job = jobPreparer(contract, principal)({ name: jobName, data } as never);
      expect(job.shared).toBe(true);
      expect(writer.sendsDirectly(job)).toBe(true);

      const before = Date.now();
      const id = await writer.add(job);
      const after = Date.now();
      const reference = await theirs.add(job.name, job.data, job.opts);
      expect(id).toBe(reference.id);

      const mine = await stored(ours, id);
      expect(mine.fields).toEqual((await stored(theirs, id)).fields);
      expect(mine.timestamp).toBeGreaterThanOrEqual(before);
      expect(mine.timestamp).toBeLessThanOrEqual(after);
      expect(await ours.getWaiting()).toHaveLength(1);
      expect((await ours.getJob(id))?.data).toEqual(data);
      expect(await events(ours)).toEqual(await events(theirs));
    }
  });

  it('packs names and key prefixes of any length as BullMQ does (msgpack str 8 and str 16 headers)', async () => {
    const contract = contracts.emails as QueueContract;
    const job = jobPreparer(contract, principal)({ name: 'welcome', data: EVERY_JOB[0].data } as never);
    for (const length of [40, 300]) {
      const prefix = `${redis.prefix}-${'p'.repeat(length)}`;
      const ours = open('emails', prefix);
      const writer = new JobWriter(ours, Object.keys(contract.jobs), { telemetry: false });
      expect(writer.sendsDirectly(job)).toBe(true);
      const id = await writer.add(job);
      expect((await ours.getJob(id))?.data).toEqual(EVERY_JOB[0].data);
    }
  });

  it('adds a batch in request order, one id per job, as addBulk would, in one script call per 100 jobs', async () => {
    const contract = contracts.emails as QueueContract;
    const ours = open('emails', `${redis.prefix}-ours`);
    const theirs = open('emails', `${redis.prefix}-theirs`);
    const writer = new JobWriter(ours, Object.keys(contract.jobs), { telemetry: false });
    const prepare = jobPreparer(contract, principal);
    const kinds = EVERY_JOB.filter((job) => job.queue === 'emails');
    const jobs = Array.from({ length: 250 }, (_, i) => {
      const kind = kinds[i % kinds.length] as (typeof kinds)[number];
      return prepare({ name: kind.name, data: { ...kind.data, i } } as never);
    });
    expect(jobs.every((job) => writer.sendsDirectly(job))).toBe(true);

    // Two jobs first, both ways: ioredis sends a script's first call on a connection as an EVAL.
    await writer.addAll(jobs.slice(0, 2));
    await theirs.addBulk(jobs.slice(0, 2));
    let ids: string[] = [];
    const calls = await callsDuring(`${redis.prefix}-ours`, async () => {
      ids = await writer.addAll(jobs);
    });
    expect(calls.map(({ command, jobs }) => [command, jobs])).toEqual([
      ['evalsha', 100],
      ['evalsha', 100],
      ['evalsha', 50],
    ]);

    const reference = await theirs.addBulk(jobs);
    expect(ids).toEqual(reference.map((job) => job.id));
    expect(ids[0]).toBe('3');
    const order = async (queue: Queue) =>
      (await queue.getWaiting(0, -1)).map((job) => [job.id, job.name, job.data]);
    expect(await order(ours)).toEqual(await order(theirs));
    for (const id of ['1', '3', '103', '252']) {
      expect((await stored(ours, id)).fields).toEqual((await stored(theirs, id)).fields);
    }
    expect(await events(ours)).toEqual(await events(theirs));
  });

  it('sends the single jobs of one turn, from any key, in one call, each as queue.add would add it', async () => {
    const contract = contracts.emails as QueueContract;
    const ours = open('emails', `${redis.prefix}-ours`);
    const theirs = open('emails', `${redis.prefix}-theirs`);
    const writer = new JobWriter(ours, Object.keys(contract.jobs), { telemetry: false });
    // Two keys: each has its own shared options (its origin), which travel with each job.
    const other = { ...(principal as object), id: 'other', tenant: 'globex' } as never;
    const jobs = [principal, other, principal, other, principal].map((who, i) =>
      jobPreparer(contract, who)({ name: 'welcome', data: { ...EVERY_JOB[0].data, i } } as never),
    );
    expect(jobs[0]?.opts).not.toEqual(jobs[1]?.opts);
    // A lone job and a pair first: ioredis sends a script's first call on a connection as an EVAL.
    const warmUp = [await writer.add(jobs[0] as JobToAdd)];
    warmUp.push(...(await Promise.all([writer.add(jobs[0] as JobToAdd), writer.add(jobs[1] as JobToAdd)])));
    expect(warmUp).toEqual(['1', '2', '3']);

    let ids: string[] = [];
    let lone = '';
    const calls = await callsDuring(`${redis.prefix}-ours`, async () => {
      ids = await Promise.all(jobs.map((job) => writer.add(job)));
      lone = await writer.add(jobs[1] as JobToAdd);
    });
    expect(calls.map(({ command, jobs }) => [command, jobs])).toEqual([
      ['evalsha', 5],
      ['evalsha', 1],
    ]);
    // The lone job went through BullMQ's own script, not the batch script.
    expect(calls[1]?.sha).not.toBe(calls[0]?.sha);
    expect(ids).toEqual(['4', '5', '6', '7', '8']);
    expect(lone).toBe('9');

    for (const job of [jobs[0], jobs[0], jobs[1], ...jobs, jobs[1]] as JobToAdd[]) {
      await theirs.add(job.name, job.data, job.opts);
    }
    for (let id = 1; id <= 9; id++) {
      expect((await stored(ours, String(id))).fields).toEqual((await stored(theirs, String(id))).fields);
    }
    expect(await events(ours)).toEqual(await events(theirs));
  });

  it('answers each job of a shared call on its own: Redis at maxmemory refuses each with its OOM reply', async () => {
    // Its own Redis: it is made full.
    const server = await startRedisServer();
    const connection = new Redis(server.url, { maxRetriesPerRequest: null });
    const queue = new Queue('emails', { connection, prefix: redis.prefix });
    try {
      const contract = contracts.emails as QueueContract;
      const writer = new JobWriter(queue, Object.keys(contract.jobs), { telemetry: false });
      const job = jobPreparer(contract, principal)({ name: 'welcome', data: EVERY_JOB[0].data } as never);
      expect(await Promise.all([writer.add(job), writer.add(job)])).toEqual(['1', '2']);
      await connection.config('SET', 'maxmemory', '1');
      const answers = await Promise.allSettled([writer.add(job), writer.add(job), writer.add(job)]);
      await connection.config('SET', 'maxmemory', '0');
      for (const answer of answers) {
        expect(answer.status).toBe('rejected');
        expect(isRedisFull((answer as PromiseRejectedResult).reason)).toBe(true);
      }
      expect(await queue.getWaitingCount()).toBe(2);
      expect(await Promise.all([writer.add(job), writer.add(job)])).toEqual(['3', '4']);
    } finally {
      await queue.close();
      connection.disconnect();
      await server.stop();
    }
  });

  it('sends through BullMQ what it cannot send alike: own options, a delay, telemetry, an unknown name', async () => {
    const contract = contracts.emails as QueueContract;
    const queue = open('emails', redis.prefix);
    const writer = new JobWriter(queue, Object.keys(contract.jobs), { telemetry: false });
    const prepare = jobPreparer(contract, principal);
    const shared = prepare({ name: 'welcome', data: EVERY_JOB[0].data } as never);
    const own = prepare({ name: 'welcome', data: EVERY_JOB[0].data, options: { attempts: 2 } } as never);
    const delayed: JobToAdd = { ...shared, opts: { ...shared.opts, delay: 60_000 } as JobsOptions };
    const unknown: JobToAdd = { ...shared, name: 'not-in-the-contract' };
    expect(own.shared).toBe(false);
    expect(writer.sendsDirectly(own)).toBe(false);
    expect(writer.sendsDirectly(delayed)).toBe(false);
    expect(writer.sendsDirectly(unknown)).toBe(false);
    expect(new JobWriter(queue, Object.keys(contract.jobs), { telemetry: true }).sendsDirectly(shared)).toBe(
      false,
    );

    // A batch that mixes them keeps its order: all of it goes through BullMQ.
    const ids = await writer.addAll([shared, own, delayed, unknown, shared]);
    expect(ids).toEqual(['1', '2', '3', '4', '5']);
    expect((await queue.getJob('2'))?.opts.attempts).toBe(2);
    expect(await queue.getDelayedCount()).toBe(1);
    expect((await queue.getWaiting(0, -1)).map((job) => job.id)).toEqual(['1', '2', '4', '5']);
  });

  it("keeps BullMQ's producer spans: with tracing on, the gateway's queues add every job through queue.add", async () => {
    const job = jobPreparer(
      contracts.emails as QueueContract,
      principal,
    )({
      name: 'welcome',
      data: EVERY_JOB[0].data,
    } as never);
    // A recording stand-in for bullmq-otel: which spans BullMQ opens, and the context it hands the job.
    const spans: string[] = [];
    const span = { setAttributes() {}, setSpanOnContext: () => ({}), recordException() {}, end() {} };
    const telemetry = {
      tracer: {
        startSpan(name: string) {
          spans.push(name);
          return span;
        },
      },
      contextManager: {
        active: () => ({}),
        with: (_context: unknown, fn: () => unknown) => fn(),
        getMetadata: () => 'trace-context',
        fromMetadata: () => ({}),
      },
    };
    const { logger } = memoryLogger();
    const traced = new GatewayQueues(redis.connection(), redis.prefix, logger, telemetry as never);
    const plain = new GatewayQueues(redis.connection(), `${redis.prefix}-plain`, logger, undefined);
    try {
      const writer = traced.require('emails').writer;
      expect(writer.sendsDirectly(job)).toBe(false);
      const id = await writer.add(job);
      expect(spans).toEqual(['add emails.welcome']);
      const added = await open('emails', redis.prefix).getJob(id);
      expect(added?.opts.telemetry?.metadata).toBe('trace-context');
      expect(plain.require('emails').writer.sendsDirectly(job)).toBe(true);
    } finally {
      await Promise.all([traced.close(), plain.close()]);
    }
  });
});
