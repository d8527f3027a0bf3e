import { deadLetters } from '@jobfleet/queue-contracts';
import { createLogger, createMetricsRegistry } from '@jobfleet/service-kit';
import { logSink, useServiceProcesses, useTestRedis } from '@jobfleet/test-utils';
import { type Job, Queue } from 'bullmq';
import { describe, expect, it, vi } from 'vitest';
import { createWorkerRuntime } from '../src/index.js';
import { pings } from './fixture-contract.js';

const JOBS = 6;

describe('graceful restarts while long jobs run', () => {
  const redis = useTestRedis();
  const processes = useServiceProcesses({
    packageDir: new URL('..', import.meta.url),
    main: 'test/fixture-long-jobs/main.ts',
    name: 'the long-jobs worker',
  });

  it('two SIGTERM restarts in a row put the running jobs back to wait at once, each keeps its attempt, none stalls or is dead-lettered, each completes once', async () => {
    const env = {
      REDIS_URL: redis.url,
      JOBFLEET_PREFIX: redis.prefix,
      HOST: '127.0.0.1',
      METRICS_PORT: '0',
      SHUTDOWN_TIMEOUT_MS: '300',
      // Short locks and frequent stalled checks: a job left active at shutdown would be found
      // stalled within seconds, and a second stall (WORKER_MAX_STALLED_COUNT 1) would fail it.
      WORKER_LOCK_DURATION_MS: '1000',
      WORKER_STALLED_INTERVAL_MS: '1000',
      WORKER_MAX_STALLED_COUNT: '1',
    };
    const queue = new Queue(pings.name, { connection: redis.connection(), prefix: redis.prefix });
    const dlq = new Queue(deadLetters.name, { connection: redis.connection(), prefix: redis.prefix });
    const admin = redis.connection();
    const jobs = await queue.addBulk(
      Array.from({ length: JOBS }, () => ({
        name: 'pause',
        data: { ms: 3_000 },
        opts: { ...pings.defaultJobOptions, attempts: 1 },
      })),
    );

    const restart = async (round: number) => {
      const worker = processes.spawn(env, { nodeArgs: ['--import', 'tsx'] });
      await worker.waitForLog((line) => line.msg === 'worker started', 30_000);
      await vi.waitFor(async () => expect(await queue.getActiveCount()).toBe(JOBS), { timeout: 15_000 });
      expect(await worker.stop('SIGTERM'), `round ${round}`).toEqual({ code: 0, signal: null });
      // Back in `wait` at once, not left active for stalled-job recovery.
      expect(await queue.getJobCounts('active', 'waiting', 'failed', 'completed')).toEqual({
        active: 0,
        waiting: JOBS,
        failed: 0,
        completed: 0,
      });
      const requeued = worker.logs.filter(
        (line) => line.msg === 'job put back to wait at shutdown; it keeps its attempt',
      );
      expect(requeued.map((line) => line.job_id).sort()).toEqual(jobs.map((job) => job.id).sort());
      expect(worker.logs.filter((line) => line.msg === 'shutdown complete')).toHaveLength(1);
    };
    await restart(1);
    await restart(2);

    for (const job of jobs) {
      const stored = (await queue.getJob(job.id ?? '')) as Job;
      expect(stored.attemptsMade).toBe(0);
      expect(stored.attemptsStarted).toBe(2);
    }

    const last = processes.spawn(env, { nodeArgs: ['--import', 'tsx'] });
    await last.waitForLog((line) => line.msg === 'worker started', 30_000);
    await vi.waitFor(async () => expect(await queue.getCompletedCount()).toBe(JOBS), { timeout: 20_000 });
    expect(await last.stop('SIGTERM')).toEqual({ code: 0, signal: null });

    expect(await queue.getJobCounts('active', 'waiting', 'failed', 'completed', 'delayed')).toEqual({
      active: 0,
      waiting: 0,
      failed: 0,
      completed: JOBS,
      delayed: 0,
    });
    for (const job of jobs) {
      const stored = (await queue.getJob(job.id ?? '')) as Job;
      // One counted attempt (the one that finished), whatever the restarts before it.
      expect(stored.attemptsMade).toBe(1);
      expect(await admin.get(`${redis.prefix}:runs:${job.id}`)).toBe('1');
    }
    expect(await dlq.count()).toBe(0);
    await Promise.all([queue.close(), dlq.close()]);
  }, 120_000);
});

describe('the shutdown deadline, in process', () => {
  const redis = useTestRedis();

  it('puts back the job of a handler that ignores its aborted signal once the grace is over; it keeps its attempt', async () => {
    const sink = logSink();
    let aborted = false;
    const runtime = createWorkerRuntime({
      contract: pings,
      handlers: {
        ping: async ({ text }) => ({ echoed: text }),
        pause: (_data, { signal }) => {
          signal.addEventListener('abort', () => {
            aborted = true;
          });
          return new Promise<null>(() => {});
        },
      },
      connection: redis.connection(),
      prefix: redis.prefix,
      logger: createLogger({ service: 'test', destination: sink.destination }),
      registry: createMetricsRegistry(),
    });
    const queue = new Queue(pings.name, { connection: redis.connection(), prefix: redis.prefix });
    const job = await queue.add('pause', { ms: 10_000 }, pings.defaultJobOptions);
    await vi.waitFor(async () => expect(await queue.getActiveCount()).toBe(1));

    expect(await runtime.close(100, 100)).toBe(false);
    expect(aborted).toBe(true);
    const stored = (await queue.getJob(job.id ?? '')) as Job;
    expect(await stored.getState()).toBe('waiting');
    expect(stored.attemptsMade).toBe(0);
    expect(sink.lines.map((line) => line.msg)).toEqual(
      expect.arrayContaining([
        'handler still running after its signal was aborted; putting its job back to wait anyway',
        'job put back to wait at shutdown; it keeps its attempt',
      ]),
    );
    await queue.close();
  });

  it('completes the job of a handler that returns after its signal was aborted (its work was done)', async () => {
    const runtime = createWorkerRuntime({
      contract: pings,
      handlers: {
        ping: async ({ text }) => ({ echoed: text }),
        pause: (_data, { signal }) =>
          new Promise<null>((resolve) => signal.addEventListener('abort', () => resolve(null))),
      },
      connection: redis.connection(),
      prefix: redis.prefix,
      logger: createLogger({ service: 'test', level: 'silent' }),
      registry: createMetricsRegistry(),
    });
    const queue = new Queue(pings.name, { connection: redis.connection(), prefix: redis.prefix });
    const job = await queue.add('pause', { ms: 10_000 }, pings.defaultJobOptions);
    await vi.waitFor(async () => expect(await queue.getActiveCount()).toBe(1));
    expect(await runtime.close(100, 5_000)).toBe(false);
    expect(await (await queue.getJob(job.id ?? ''))?.getState()).toBe('completed');
    await queue.close();
  });
});
