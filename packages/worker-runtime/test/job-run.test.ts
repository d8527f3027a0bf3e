import { createLogger, createMetricsRegistry } from '@jobfleet/service-kit';
import { useTestRedis } from '@jobfleet/test-utils';
import { Queue, QueueEvents, Worker } from 'bullmq';
import { describe, expect, it } from 'vitest';
import { createWorkerRuntime, type HandlerMap, type JobContext } from '../src/index.js';
import { isFirstStart } from '../src/job-run.js';
import { pings } from './fixture-contract.js';

const silent = createLogger({ service: 'test', level: 'silent' });

describe('isFirstStart', () => {
  it("is true only for BullMQ's counters of a job that never ran", () => {
    expect(isFirstStart({ attemptsStarted: 1, attemptsMade: 0, stalledCounter: 0 })).toBe(true);
    const reruns = [
      { attemptsStarted: 2, attemptsMade: 1, stalledCounter: 0 }, // retried after a failed attempt
      { attemptsStarted: 2, attemptsMade: 0, stalledCounter: 1 }, // recovered after a stall
      { attemptsStarted: 2, attemptsMade: 0, stalledCounter: 0 }, // put back to wait at shutdown
      { attemptsStarted: 1, attemptsMade: 1, stalledCounter: 0 }, // job.retry() with resetAttemptsStarted
      { attemptsStarted: 1, attemptsMade: 0, stalledCounter: 1 }, // both reset, after a stall
    ];
    for (const run of reruns) expect(isFirstStart(run), JSON.stringify(run)).toBe(false);
  });
});

describe('JobContext.firstStart', () => {
  const redis = useTestRedis();

  /** A runtime whose `ping` handler records each run's `firstStart` and fails the first run of `fail-once`. */
  async function start(workerOptions: { stalledInterval?: number; maxStalledCount?: number } = {}) {
    const runs: Array<{ text: string; firstStart: boolean }> = [];
    const handlers: HandlerMap<typeof pings> = {
      ping: async ({ text }, { firstStart }: JobContext) => {
        runs.push({ text, firstStart });
        if (text === 'fail-once' && runs.filter((run) => run.text === text).length === 1) {
          throw new Error('first attempt fails');
        }
        return { echoed: text };
      },
      pause: async () => null,
    };
    const runtime = createWorkerRuntime({
      contract: pings,
      handlers,
      connection: redis.connection(),
      prefix: redis.prefix,
      logger: silent,
      registry: createMetricsRegistry(),
      recordUsage: false,
      workerOptions,
    });
    const events = new QueueEvents(pings.name, { connection: { url: redis.url }, prefix: redis.prefix });
    await Promise.all([runtime.worker.waitUntilReady(), events.waitUntilReady()]);
    return { runtime, events, runs };
  }

  it('is true on the first run and false on the retry after a failed attempt', async () => {
    const queue = new Queue(pings.name, { connection: redis.connection(), prefix: redis.prefix });
    const { runtime, events, runs } = await start();
    const job = await queue.add('ping', { text: 'fail-once' }, pings.defaultJobOptions);
    await job.waitUntilFinished(events);
    expect(runs).toEqual([
      { text: 'fail-once', firstStart: true },
      { text: 'fail-once', firstStart: false },
    ]);
    await runtime.close();
    await Promise.all([events.close(), queue.close()]);
  });

  it('is false on the run after a stall (the first run never finished an attempt)', async () => {
    const queue = new Queue(pings.name, { connection: redis.connection(), prefix: redis.prefix });
    // A worker that takes the job and then goes silent, as a frozen or killed process would.
    let entered = () => {};
    const taken = new Promise<void>((resolve) => {
      entered = resolve;
    });
    const frozen = new Worker(
      pings.name,
      async () => {
        entered();
        await new Promise(() => {});
      },
      {
        connection: redis.connection(),
        prefix: redis.prefix,
        lockDuration: 500,
        skipLockRenewal: true,
        skipStalledCheck: true,
      },
    );
    const job = await queue.add('ping', { text: 'stalled' }, pings.defaultJobOptions);
    await taken;
    const { runtime, events, runs } = await start({ stalledInterval: 300, maxStalledCount: 1 });
    await job.waitUntilFinished(events);
    expect(runs).toEqual([{ text: 'stalled', firstStart: false }]);
    const finished = await queue.getJob(job.id ?? '');
    expect(finished?.stalledCounter).toBe(1);
    await runtime.close();
    await frozen.close(true);
    await Promise.all([events.close(), queue.close()]);
  });
});
