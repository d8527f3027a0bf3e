import { randomUUID } from 'node:crypto';
import {
  DEAD_LETTER_JOB,
  type DeadLetterRecord,
  deadLetters,
  type QueueContract,
} from '@jobfleet/queue-contracts';
import { type Job, Queue, QueueEvents } from 'bullmq';
import type { Cluster, Redis } from 'ioredis';
import type { Static } from 'typebox';
import { afterEach, describe, expect, it } from 'vitest';
import { useTestRedis } from './redis-fixture.js';

/** The least a handler looks like to the suite: it sees the job id in its context. */
type AnyHandler = (data: unknown, context: { job: { id?: string | undefined } }) => Promise<unknown>;

/** Decorates a worker's handler map so the suite can make a job throw or hold it in flight. */
export type HandlerWrapper = <H extends object>(handlers: H) => H;

export interface StartedWorker {
  /** Graceful close: stop fetching, let in-flight jobs finish. */
  close(): Promise<unknown>;
}

export interface WorkerContractSuiteOptions {
  contract: QueueContract;
  /** A job the worker completes. */
  valid: { name: string; data: unknown };
  /** A job whose payload breaks the contract. */
  invalid: { name: string; data: unknown };
  /**
   * Starts the worker under test on the given Redis and prefix, its handlers
   * passed through `wrap`; `env` holds both as `REDIS_URL` and `JOBFLEET_PREFIX`,
   * so a `defineWorker` worker starts with `worker.start({ env, wrap })`.
   */
  start(context: {
    redisUrl: string;
    prefix: string;
    env: { REDIS_URL: string; JOBFLEET_PREFIX: string };
    connection: Redis | Cluster;
    wrap: HandlerWrapper;
  }): Promise<StartedWorker>;
  /** Per-test timeout; the defaults suit a worker that finishes a valid job within seconds. */
  timeoutMs?: number;
}

interface Deferred {
  promise: Promise<void>;
  resolve(): void;
}

function deferred(): Deferred {
  let resolve = () => {};
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

const FAIL = 'contract-fail-';
const HOLD = 'contract-hold-';

/**
 * The behaviour every jobfleet worker owes its queue, run against real Redis:
 * a valid job completes; an invalid payload is dead-lettered without a retry; a
 * throwing handler is tried `attempts` times and dead-lettered once; closing
 * lets an in-flight job finish.
 */
export function workerContractSuite(options: WorkerContractSuiteOptions): void {
  const { contract, valid, invalid, timeoutMs = 20_000 } = options;
  const redis = useTestRedis();
  const cleanup: Array<() => Promise<unknown>> = [];
  let calls = new Map<string, number>();
  let hold: { entered: Deferred; release: Deferred } | undefined;

  const wrap: HandlerWrapper = (handlers) => {
    const wrapped: Record<string, AnyHandler> = {};
    for (const [name, handler] of Object.entries(handlers as Record<string, AnyHandler>)) {
      wrapped[name] = async (data, context) => {
        const id = context.job.id ?? '';
        calls.set(id, (calls.get(id) ?? 0) + 1);
        if (id.startsWith(FAIL)) throw new Error('contract suite: handler failure');
        if (id.startsWith(HOLD) && hold) {
          hold.entered.resolve();
          await hold.release.promise;
        }
        return handler(data, context);
      };
    }
    return wrapped as typeof handlers;
  };

  async function setup() {
    calls = new Map();
    const connection = redis.connection();
    const prefix = redis.prefix;
    // service-kit's queuePrefix (test-utils cannot depend on it): one hash tag per queue on a cluster.
    const of = (name: string) => (connection.isCluster ? `{${prefix}:${name}}` : prefix);
    const queue = new Queue(contract.name, { connection, prefix: of(contract.name) });
    const dlq = new Queue(deadLetters.name, { connection, prefix: of(deadLetters.name) });
    const events = new QueueEvents(contract.name, {
      connection: { url: redis.url },
      prefix: of(contract.name),
    });
    const dlqEvents = new QueueEvents(deadLetters.name, {
      connection: { url: redis.url },
      prefix: of(deadLetters.name),
    });
    await Promise.all([events.waitUntilReady(), dlqEvents.waitUntilReady()]);
    const worker = await options.start({
      redisUrl: redis.url,
      prefix,
      env: { REDIS_URL: redis.url, JOBFLEET_PREFIX: prefix },
      connection: redis.connection(),
      wrap,
    });
    let closed = false;
    const close = async () => {
      if (!closed) await worker.close();
      closed = true;
    };
    cleanup.push(
      close,
      () => events.close(),
      () => dlqEvents.close(),
      () => queue.close(),
      () => dlq.close(),
    );

    /** Resolves with the record once the dead-letter queue holds one for `jobId`. */
    const deadLetterOf = (jobId: string) =>
      new Promise<Job<Static<typeof DeadLetterRecord>>>((resolve) => {
        const prefixOfId = `${contract.name}.${jobId}.`;
        const onAdded = async ({ jobId: id }: { jobId: string }) => {
          if (!id.startsWith(prefixOfId)) return;
          dlqEvents.off('added', onAdded);
          const record = await dlq.getJob(id);
          if (record) resolve(record);
        };
        dlqEvents.on('added', onAdded);
      });

    const recordsOf = async (jobId: string) =>
      (await dlq.getJobs(['waiting', 'active', 'completed', 'failed', 'delayed', 'prioritized'])).filter(
        (j) => j.data.queue === contract.name && j.data.jobId === jobId,
      );

    const addJob = (job: { name: string; data: unknown }, jobId: string, extra: object = {}) =>
      queue.add(job.name, job.data, {
        ...contract.defaultJobOptions,
        // Retries come quickly in the suite; the count is the contract's.
        backoff: { type: 'fixed', delay: 10 },
        jobId,
        ...extra,
      });

    return { queue, dlq, events, close, deadLetterOf, recordsOf, addJob };
  }

  describe(`worker contract: ${contract.name}`, () => {
    afterEach(async () => {
      hold?.release.resolve();
      hold = undefined;
      for (const step of cleanup.splice(0)) await step().catch(() => {});
    });

    it(
      'completes a valid job',
      async () => {
        const { events, addJob } = await setup();
        const job = await addJob(valid, `contract-ok-${randomUUID()}`);
        await job.waitUntilFinished(events, timeoutMs);
        const state = await job.getState();
        expect(state).toBe('completed');
        expect(calls.get(job.id ?? '')).toBe(1);
      },
      timeoutMs,
    );

    it(
      'dead-letters an invalid payload at once, without a retry and without calling the handler',
      async () => {
        const { addJob, deadLetterOf, recordsOf, queue } = await setup();
        const jobId = `contract-invalid-${randomUUID()}`;
        const recorded = deadLetterOf(jobId);
        await addJob(invalid, jobId);
        const record = await recorded;
        const job = await queue.getJob(jobId);
        expect(await job?.getState()).toBe('failed');
        expect(job?.attemptsMade).toBe(1);
        expect(calls.get(jobId)).toBeUndefined();
        expect(record.name).toBe(DEAD_LETTER_JOB);
        expect(record.data).toMatchObject({
          queue: contract.name,
          jobId,
          jobName: invalid.name,
          attemptsMade: 1,
        });
        expect(record.data.failedReason).toMatch(/invalid payload/i);
        expect(await recordsOf(jobId)).toHaveLength(1);
      },
      timeoutMs,
    );

    it(
      'tries a throwing handler `attempts` times, then dead-letters it exactly once with its full context',
      async () => {
        const { addJob, deadLetterOf, recordsOf, queue } = await setup();
        const attempts = contract.defaultJobOptions.attempts;
        const jobId = `${FAIL}${randomUUID()}`;
        const recorded = deadLetterOf(jobId);
        const added = await addJob(valid, jobId);
        const record = await recorded;
        const job = await queue.getJob(jobId);
        expect(calls.get(jobId)).toBe(attempts);
        expect(job?.attemptsMade).toBe(attempts);
        expect(record.data).toMatchObject({
          queue: contract.name,
          jobId,
          jobName: valid.name,
          data: valid.data,
          attemptsMade: attempts,
          failedReason: 'contract suite: handler failure',
          options: expect.objectContaining({ attempts }),
        });
        expect(record.data.stacktrace.length).toBeGreaterThan(0);
        expect(Date.parse(record.data.enqueuedAt)).toBe(added.timestamp);
        expect(Date.parse(record.data.failedAt)).toBe(job?.finishedOn);
        expect(await recordsOf(jobId)).toHaveLength(1);
      },
      timeoutMs,
    );

    it(
      'lets an in-flight job finish when closed',
      async () => {
        const { addJob, close, queue } = await setup();
        hold = { entered: deferred(), release: deferred() };
        const jobId = `${HOLD}${randomUUID()}`;
        await addJob(valid, jobId);
        await hold.entered.promise;
        let released = false;
        const closing = close().then(() => released);
        // Give close() a turn to start waiting for the job before the job may end.
        await new Promise((resolve) => setImmediate(resolve));
        released = true;
        hold.release.resolve();
        expect(await closing, 'close() resolved before the in-flight job ended').toBe(true);
        expect(await (await queue.getJob(jobId))?.getState()).toBe('completed');
      },
      timeoutMs,
    );
  });
}
