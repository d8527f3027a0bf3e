import { type TestRedis, useTestRedis } from '@jobfleet/test-utils';
import { Queue } from 'bullmq';
import { describe, expect, it } from 'vitest';
import { type HandlerMap, type JobContext, JobLockLostError } from '../src/index.js';
import { holdsFreshLock, isFirstStart } from '../src/job-run.js';
import { pings } from './fixture-contract.js';
import { frozenWorker } from './frozen-worker.js';
import { startPings } from './pings-runtime.js';

const redis = useTestRedis();

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

describe('holdsFreshLock', () => {
  it('holds for less than half the lock duration after the fetch, and never for a fetch in the future', () => {
    const now = 1_700_000_000_000;
    expect(holdsFreshLock(now, 30_000, now)).toBe(true);
    expect(holdsFreshLock(now - 14_999, 30_000, now)).toBe(true);
    expect(holdsFreshLock(now - 15_000, 30_000, now)).toBe(false);
    // The clock went back since the fetch: the time held is unknown.
    expect(holdsFreshLock(now + 60_000, 30_000, now)).toBe(false);
    expect(holdsFreshLock(undefined, 30_000, now)).toBe(false);
  });
});

describe('JobContext.firstStart', () => {
  /** `ping` records each run's `firstStart`, and fails the first run of `fail-once`. */
  function recordingRuns() {
    const runs: Array<{ text: string; firstStart: boolean }> = [];
    const handlers: HandlerMap<typeof pings> = {
      ping: async ({ text }, { firstStart }) => {
        runs.push({ text, firstStart });
        if (text === 'fail-once' && runs.filter((run) => run.text === text).length === 1) {
          throw new Error('first attempt fails');
        }
        return { echoed: text };
      },
      pause: async () => null,
    };
    return { runs, handlers };
  }

  it('is true on the first run and false on the retry after a failed attempt', async () => {
    const { runs, handlers } = recordingRuns();
    const { queue, events, stop } = await startPings(redis, handlers);
    const job = await queue.add('ping', { text: 'fail-once' }, pings.defaultJobOptions);
    await job.waitUntilFinished(events);
    expect(runs).toEqual([
      { text: 'fail-once', firstStart: true },
      { text: 'fail-once', firstStart: false },
    ]);
    await stop();
  });

  it('is false on the run after a stall (the first run never finished an attempt)', async () => {
    const producer = new Queue(pings.name, { connection: redis.connection(), prefix: redis.prefix });
    const frozen = frozenWorker(redis, pings.name);
    const job = await producer.add('ping', { text: 'stalled' }, pings.defaultJobOptions);
    await frozen.taken;
    const { runs, handlers } = recordingRuns();
    const { queue, events, stop } = await startPings(redis, handlers, {
      workerOptions: { stalledInterval: 300, maxStalledCount: 1 },
    });
    await job.waitUntilFinished(events);
    expect(runs).toEqual([{ text: 'stalled', firstStart: false }]);
    expect((await queue.getJob(job.id ?? ''))?.stalledCounter).toBe(1);
    await stop();
    await frozen.close();
    await producer.close();
  });
});

/**
 * Watches the Redis server (MONITOR) for scripts run on a job's lock key (BullMQ's
 * `extendLock`, which `ensureOwned()` runs): `count(lockKey)` settles (a marker
 * command seen after everything sent before it) and returns how many ran so far.
 */
async function watchLockScripts(redis: TestRedis) {
  const monitor = redis.connection().duplicate({ monitor: true, lazyConnect: false });
  const monitoring = new Promise<void>((resolve, reject) => {
    monitor.once('monitoring', resolve);
    // ioredis enters monitoring mode a tick after MONITOR's OK, and reports lines that arrive in
    // between as this error: commands run before the watch began, which it does not count anyway.
    monitor.on('error', (error) => {
      if (!error.message.startsWith('Command queue state error')) reject(error);
    });
  });
  const seen: string[] = [];
  const markers = new Map<string, () => void>();
  monitor.on('monitor', (_time: string, args: string[]) => {
    const command = (args[0] ?? '').toLowerCase();
    if (command === 'echo') markers.get(args[1] ?? '')?.();
    else if (command.startsWith('eval')) seen.push(...args.filter((arg) => arg.endsWith(':lock')));
  });
  await monitoring;
  const client = redis.connection();
  return {
    async count(lockKey: string): Promise<number> {
      const marker = `marker:${Math.random()}`;
      const arrived = new Promise<void>((resolve) => markers.set(marker, resolve));
      await client.echo(marker);
      await arrived;
      markers.delete(marker);
      return seen.filter((key) => key === lockKey).length;
    },
    close: () => monitor.disconnect(),
  };
}

describe('JobContext.ensureOwned', () => {
  // Long enough that a loaded machine stays well inside the fresh half between the fetch and the checks.
  const LOCK_DURATION_MS = 10_000;

  /**
   * Runs one `ping` job on a runtime with a 10 s lock; `during` gets the running
   * job's context, its lock key, a count of lock scripts run on it and a Redis client.
   */
  async function runJob(
    during: (run: {
      context: JobContext;
      lockKey: string;
      /** Lock scripts run on this job's lock so far. */
      lockScripts: () => Promise<number>;
      admin: ReturnType<TestRedis['connection']>;
    }) => Promise<void>,
  ) {
    const admin = redis.connection();
    const watch = await watchLockScripts(redis);
    let failure: unknown;
    const { queue, events, stop } = await startPings(
      redis,
      {
        ping: async ({ text }, context) => {
          const lockKey = `${context.job.queueQualifiedName}:${context.job.id}:lock`;
          try {
            await during({ context, lockKey, lockScripts: () => watch.count(lockKey), admin });
          } catch (error) {
            // Kept for the test to rethrow: a failed handler would only retry the job.
            failure = error;
          }
          return { echoed: text };
        },
        pause: async () => null,
      },
      { workerOptions: { lockDuration: LOCK_DURATION_MS } },
    );
    const job = await queue.add('ping', { text: 'a' }, { ...pings.defaultJobOptions, attempts: 1 });
    await job.waitUntilFinished(events);
    await stop();
    watch.close();
    if (failure) throw failure;
  }

  /** Sets the lock to another worker's token; returns a function that gives it back. */
  async function takeLock(admin: ReturnType<TestRedis['connection']>, lockKey: string) {
    const token = await admin.get(lockKey);
    expect(token).toBeTruthy();
    await admin.set(lockKey, 'another-worker', 'PX', LOCK_DURATION_MS);
    return async () => void (await admin.set(lockKey, token ?? '', 'PX', LOCK_DURATION_MS));
  }

  it('answers without a Redis command while the lock set by the fetch is fresh, even if it was taken away', async () => {
    await runJob(async ({ context, lockKey, lockScripts, admin }) => {
      await context.ensureOwned();
      expect(await lockScripts()).toBe(0);
      // The trade-off: within the window a lock taken away otherwise goes unnoticed.
      const giveBack = await takeLock(admin, lockKey);
      await context.ensureOwned();
      expect(await lockScripts()).toBe(0);
      await giveBack();
    });
  });

  it('asks Redis once half the lock duration has passed since the fetch, and throws once the lock is lost', async () => {
    await runJob(async ({ context, lockKey, lockScripts, admin }) => {
      // As if fetched half a lock duration ago: the lock may have expired and been taken over since.
      context.job.processedOn = Date.now() - LOCK_DURATION_MS / 2;
      await context.ensureOwned();
      expect(await lockScripts()).toBe(1);
      const giveBack = await takeLock(admin, lockKey);
      await expect(context.ensureOwned()).rejects.toBeInstanceOf(JobLockLostError);
      expect(await lockScripts()).toBe(2);
      await giveBack();
    });
  });
});
