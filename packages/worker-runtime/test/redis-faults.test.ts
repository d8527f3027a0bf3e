import { createLogger } from '@jobfleet/service-kit';
import { type LogLine, logSink, type RedisServer, startRedisServer } from '@jobfleet/test-utils';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { defineWorker, errorKind, type HandlerMap, RedisFaults } from '../src/index.js';
import { pings } from './fixture-contract.js';

const handlers: HandlerMap<typeof pings> = {
  ping: async ({ text }) => ({ echoed: text }),
  pause: async () => null,
};

const pingWorker = defineWorker({
  service: 'pings-worker',
  metricsPort: 0,
  queues: [{ contract: pings, handlers }],
});

/** Short intervals, so that a few of them pass in a test; the bounds below hold for any interval. */
const LOG_INTERVAL_MS = 1_000;
const BACKOFF_MAX_MS = 200;
/** Hash-tagged: on a cluster node, every key of the queue is in one slot (else Redis answers CROSSSLOT first). */
const PREFIX = '{faults}';

const errorLines = (lines: readonly LogLine[]) => lines.filter((line) => (line.level ?? 0) >= 50);
const repeated = (lines: readonly LogLine[]) => lines.filter((line) => line.msg === 'worker error repeated');

describe('errorKind', () => {
  it('names a Redis reply by its code, anything else by its code or name', () => {
    expect(errorKind(new Error('MOVED 3999 127.0.0.1:7001'))).toBe('MOVED');
    expect(errorKind(new Error('CLUSTERDOWN Hash slot not served'))).toBe('CLUSTERDOWN');
    expect(errorKind(new Error("OOM command not allowed when used memory > 'maxmemory'."))).toBe('OOM');
    expect(errorKind(new Error("READONLY You can't write against a read only replica."))).toBe('READONLY');
    expect(errorKind(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }))).toBe('ECONNRESET');
    expect(errorKind(new TypeError('x is not a function'))).toBe('TypeError');
  });
});

describe('RedisFaults', () => {
  it('pauses exponentially up to the cap, and a success ends the fault', () => {
    const sink = logSink();
    const faults = new RedisFaults({
      queue: 'pings',
      logger: createLogger({ service: 'test', destination: sink.destination }),
      baseDelayMs: 100,
      maxDelayMs: 1_000,
    });
    const moved = new Error('MOVED 1 127.0.0.1:1');
    const pauses = Array.from({ length: 8 }, () => faults.fetchFailed(moved));
    // ±20 % jitter around 100, 200, 400, 800, then the cap.
    const expected = [100, 200, 400, 800, 1_000, 1_000, 1_000, 1_000];
    pauses.forEach((pause, i) => {
      expect(pause).toBeGreaterThanOrEqual((expected[i] ?? 0) * 0.8);
      expect(pause).toBeLessThanOrEqual((expected[i] ?? 0) * 1.2);
    });
    expect(faults.fault).toMatchObject({ kind: 'MOVED', configuration: true });
    // A connection error is ioredis's to retry: no pause, no fault of its own.
    expect(faults.fetchFailed(new Error('Connection is closed.'))).toBe(0);
    faults.fetchSucceeded();
    expect(faults.fault).toBeUndefined();
    expect(faults.fetchFailed(new Error('OOM command not allowed'))).toBeLessThanOrEqual(120);
    faults.close();
  });

  it('logs one line per error kind per interval, then the repeats as one line with their count', () => {
    vi.useFakeTimers();
    try {
      const sink = logSink();
      const faults = new RedisFaults({
        queue: 'pings',
        logger: createLogger({ service: 'test', destination: sink.destination }),
        logIntervalMs: 10_000,
      });
      for (let i = 0; i < 2_000; i++)
        faults.report(new Error(`CROSSSLOT Keys in request don't hash to the same slot`));
      for (let i = 0; i < 500; i++)
        faults.report(new Error('WRONGTYPE Operation against a key holding the wrong kind of value'));
      expect(sink.lines.map((line) => [String(line.msg).slice(0, 30), line.error_kind])).toEqual([
        ['Redis configuration error: Red', 'CROSSSLOT'],
        ['worker error', 'WRONGTYPE'],
      ]);
      vi.advanceTimersByTime(10_000);
      expect(repeated(sink.lines).map((line) => [line.error_kind, line.count])).toEqual([
        ['CROSSSLOT', 1_999],
        ['WRONGTYPE', 499],
      ]);
      // A kind that went quiet closes its window; one that goes on gets a line per interval.
      faults.report(new Error('WRONGTYPE again'));
      vi.advanceTimersByTime(10_000);
      vi.advanceTimersByTime(10_000);
      expect(repeated(sink.lines).map((line) => [line.error_kind, line.count])).toEqual([
        ['CROSSSLOT', 1_999],
        ['WRONGTYPE', 499],
        ['WRONGTYPE', 1],
      ]);
      faults.report(new Error('WRONGTYPE after a quiet interval'));
      expect(sink.lines.at(-1)).toMatchObject({ msg: 'worker error', error_kind: 'WRONGTYPE' });
      faults.close();
    } finally {
      vi.useRealTimers();
    }
  });
});

describe('a worker whose Redis refuses its commands', () => {
  const servers: RedisServer[] = [];
  const clients: Redis[] = [];
  const cleanup: Array<() => Promise<unknown>> = [];
  afterEach(async () => {
    for (const step of cleanup.splice(0).reverse()) await step();
    await Promise.all(clients.splice(0).map((client) => client.quit().catch(() => client.disconnect())));
    await Promise.all(servers.splice(0).map((server) => server.stop()));
  });

  const server = async (args: string[] = []) => {
    const started = await startRedisServer({ args });
    servers.push(started);
    const admin = new Redis(started.url, { maxRetriesPerRequest: null });
    clients.push(admin);
    return { server: started, admin };
  };

  const start = async (url: string) => {
    const sink = logSink();
    const running = await pingWorker.start({
      env: {
        REDIS_URL: url,
        JOBFLEET_PREFIX: PREFIX,
        WORKER_ERROR_LOG_INTERVAL_MS: String(LOG_INTERVAL_MS),
        WORKER_ERROR_BACKOFF_MAX_MS: String(BACKOFF_MAX_MS),
      },
      logger: createLogger({ service: 'pings-worker', destination: sink.destination }),
    });
    cleanup.push(() => running.close());
    const ready = async () => {
      const response = await fetch(`${running.metricsUrl}/health/ready`);
      return {
        status: response.status,
        body: (await response.json()) as { checks: Array<{ name: string; reason?: string }> },
      };
    };
    return { running, sink, ready };
  };

  /** Waits until a cluster node says the cluster is up (it waits a little after its slots change). */
  const clusterOk = (node: Redis) =>
    vi.waitFor(async () => expect(String(await node.call('CLUSTER', 'INFO'))).toContain('cluster_state:ok'), {
      timeout: 15_000,
      interval: 100,
    });

  /** Waits until `n` more log intervals have ended with a summary line: the worker kept failing all along. */
  const intervals = (lines: readonly LogLine[], n: number) => {
    const before = repeated(lines).length;
    return vi.waitFor(() => expect(repeated(lines).length).toBeGreaterThanOrEqual(before + n), {
      timeout: 20 * LOG_INTERVAL_MS * n,
      interval: 50,
    });
  };

  it('CLUSTERDOWN (a cluster node that serves no slot): reported once, backs off, readiness 503 until the slots are served', async () => {
    const { server: node, admin } = await server(['--cluster-enabled', 'yes']);
    const { running, sink, ready } = await start(node.url);

    await intervals(sink.lines, 3);
    const errors = errorLines(sink.lines);
    const reports = errors.filter((line) => String(line.msg).startsWith('Redis configuration error'));
    expect(reports).toHaveLength(1);
    expect(reports[0]).toMatchObject({ error_kind: 'CLUSTERDOWN', queue: 'pings' });
    // Per kind: the first line, then one per interval. The worker itself emits no other error lines.
    const kinds = new Set(errors.map((line) => line.error_kind));
    expect(errors.length).toBeLessThanOrEqual(kinds.size * (repeated(sink.lines).length + 1));
    // Backing off (pauses up to BACKOFF_MAX_MS), the failures per interval stay few: without it they are thousands.
    for (const line of repeated(sink.lines).slice(1)) expect(line.count).toBeLessThan(30);

    const refused = await ready();
    expect(refused.status).toBe(503);
    expect(refused.body.checks.find((check) => check.name === 'worker')?.reason).toMatch(
      /pings.*Redis configuration error: CLUSTERDOWN/,
    );

    // The operator fixes it: this node serves every slot. The worker fetches again and processes a job.
    await admin.call('CLUSTER', 'ADDSLOTSRANGE', '0', '16383');
    await clusterOk(admin);
    await vi.waitFor(async () => expect((await ready()).status).toBe(200), { timeout: 20 * BACKOFF_MAX_MS });
    expect(sink.lines.some((line) => line.msg === 'worker fetches jobs again')).toBe(true);
    const queue = new Queue(pings.name, { connection: admin, prefix: PREFIX });
    cleanup.push(() => queue.close());
    const completed = new Promise((resolve) => running.worker.once('completed', resolve));
    await queue.add('ping', { text: 'after the fix' }, pings.defaultJobOptions);
    await completed;
  }, 60_000);

  it('MOVED (a standalone client on a node whose slots another node serves): one clear report, bounded logs, readiness 503', async () => {
    const a = await server(['--cluster-enabled', 'yes']);
    const b = await server(['--cluster-enabled', 'yes']);
    await b.admin.call('CLUSTER', 'ADDSLOTSRANGE', '0', '16383');
    await a.admin.call('CLUSTER', 'MEET', '127.0.0.1', String(b.server.port));
    // Node A learns by gossip that B serves the slots; until then it answers CLUSTERDOWN.
    await clusterOk(a.admin);
    const { sink, ready } = await start(a.server.url);

    await intervals(sink.lines, 3);
    const errors = errorLines(sink.lines);
    const reports = errors.filter((line) => String(line.msg).startsWith('Redis configuration error'));
    expect(reports.map((line) => line.error_kind)).toEqual(['MOVED']);
    const kinds = new Set(errors.map((line) => line.error_kind));
    expect(errors.length).toBeLessThanOrEqual(kinds.size * (repeated(sink.lines).length + 1));
    for (const line of repeated(sink.lines).slice(1)) expect(line.count).toBeLessThan(30);

    const refused = await ready();
    expect(refused.status).toBe(503);
    expect(refused.body.checks.find((check) => check.name === 'worker')?.reason).toMatch(
      /Redis configuration error: MOVED/,
    );
  }, 60_000);

  it('OOM (maxmemory reached with noeviction): readiness 503 while writes are refused, not a configuration error; 200 again once they are not', async () => {
    const { server: node, admin } = await server();
    const { running, sink, ready } = await start(node.url);
    const queue = new Queue(pings.name, { connection: admin, prefix: PREFIX });
    cleanup.push(() => queue.close());
    // Due shortly after Redis is full: moving it to `wait` and then `active` are writes Redis refuses.
    await queue.add('ping', { text: 'while full' }, { ...pings.defaultJobOptions, delay: 300 });
    await admin.config('SET', 'maxmemory', '1');

    // The Redis write probe turns readiness to 503 too, possibly first: wait for the worker's own check.
    await vi.waitFor(
      async () => {
        const answer = await ready();
        expect(answer.status).toBe(503);
        expect(answer.body.checks.find((check) => check.name === 'worker')?.reason).toMatch(
          /Redis refuses it: .*OOM/,
        );
      },
      { timeout: 10_000, interval: 50 },
    );
    const errors = errorLines(sink.lines);
    expect(errors.some((line) => String(line.msg).startsWith('Redis configuration error'))).toBe(false);

    const completed = new Promise((resolve) => running.worker.once('completed', resolve));
    await admin.config('SET', 'maxmemory', '0');
    await completed;
    await vi.waitFor(async () => expect((await ready()).status).toBe(200), { timeout: 10_000 });
  }, 60_000);
});
