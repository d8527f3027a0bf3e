import { CANCELLED_REASON, cancelChannel, cancelMarkerKey, deadLetters } from '@jobfleet/queue-contracts';
import type { createMetricsRegistry } from '@jobfleet/service-kit';
import { useTestRedis } from '@jobfleet/test-utils';
import { type Job, Queue } from 'bullmq';
import { describe, expect, it, vi } from 'vitest';
import type { HandlerMap, JobContext } from '../src/index.js';
import { pings } from './fixture-contract.js';
import { startPings } from './pings-runtime.js';

describe('cancelling an active job', () => {
  const redis = useTestRedis();

  /**
   * A runtime on `pings`. The tests of published requests pass a `sweepMs` far beyond their
   * length, so that only the message, not the marker sweep, can cancel the job.
   */
  async function start(handlers: HandlerMap<typeof pings>, sweepMs = 200) {
    const { runtime, registry, queue, events, stop } = await startPings(redis, handlers, {
      cancelSweepMs: sweepMs,
    });
    // The listener subscribes in the background; a request published before that would be lost.
    const channel = cancelChannel(redis.prefix, pings.name);
    const admin = redis.connection();
    await vi.waitFor(async () => expect(await admin.pubsub('NUMSUB', channel)).toEqual([channel, 1]));
    const active = (job: Job) =>
      new Promise<void>((resolve) =>
        events.on('active', ({ jobId }) => {
          if (jobId === job.id) resolve();
        }),
      );
    return { runtime, registry, queue, events, active, stop };
  }

  async function expectCancelled(queue: Queue, registry: ReturnType<typeof createMetricsRegistry>, job: Job) {
    const failed = await queue.getJob(job.id ?? '');
    expect(await failed?.getState()).toBe('failed');
    expect(failed?.failedReason).toBe(CANCELLED_REASON);
    expect(failed?.attemptsMade).toBe(1);
    const dlq = new Queue(deadLetters.name, { connection: redis.connection(), prefix: redis.prefix });
    expect(await dlq.count()).toBe(0);
    const processed = await registry.getSingleMetric('jobfleet_jobs_processed_total')?.get();
    expect(processed?.values.filter((v) => v.value > 0)).toEqual([
      { labels: { queue: 'pings', job_name: 'pause', outcome: 'cancelled' }, value: 1 },
    ]);
  }

  it('aborts the handler on a published request; the job ends cancelled, not retried, not dead-lettered', async () => {
    let sawAbort = false;
    const ctx = await start(
      {
        ping: async ({ text }) => ({ echoed: text }),
        pause: async (_data, { signal }) => {
          await new Promise<void>((resolve) =>
            signal.addEventListener('abort', () => resolve(), { once: true }),
          );
          sawAbort = true;
          return null;
        },
      },
      60_000,
    );
    const job = await ctx.queue.add('pause', { ms: 10_000 }, pings.defaultJobOptions);
    await ctx.active(job);
    const publisher = redis.connection();
    await publisher.set(cancelMarkerKey(redis.prefix, pings.name, job.id ?? ''), '{}', 'EX', 60);
    expect(await publisher.publish(cancelChannel(redis.prefix, pings.name), job.id ?? '')).toBe(1);
    await expect(job.waitUntilFinished(ctx.events, 5_000)).rejects.toThrow(CANCELLED_REASON);
    expect(sawAbort).toBe(true);
    await expectCancelled(ctx.queue, ctx.registry, job);
    expect(await publisher.exists(cancelMarkerKey(redis.prefix, pings.name, job.id ?? ''))).toBe(0);
    await ctx.stop();
  });

  it('ends a job whose handler ignores the signal, and finds a request whose message it missed', async () => {
    let release = () => {};
    let handOver: (context: JobContext) => void = () => {};
    const handed = new Promise<JobContext>((resolve) => {
      handOver = resolve;
    });
    const ctx = await start({
      ping: async ({ text }) => ({ echoed: text }),
      pause: (_data, jobContext) =>
        new Promise<null>((resolve) => {
          release = () => resolve(null);
          handOver(jobContext);
        }),
    });
    const job = await ctx.queue.add('pause', { ms: 10_000 }, pings.defaultJobOptions);
    const context = await handed;
    expect(() => context.throwIfAborted()).not.toThrow();
    // Taken out of the context before the cancel, as the README allows.
    const { throwIfAborted } = context;
    // Only the marker, no message: the periodic sweep must find it.
    await redis.connection().set(cancelMarkerKey(redis.prefix, pings.name, job.id ?? ''), '{}', 'EX', 60);
    await expect(job.waitUntilFinished(ctx.events, 5_000)).rejects.toThrow(CANCELLED_REASON);
    await expectCancelled(ctx.queue, ctx.registry, job);
    // The handler had not read its signal (a run makes it on first read): it is aborted all the same.
    // What is thrown is the signal's reason, a string here.
    const thrownBy = (check: () => void) => {
      try {
        check();
      } catch (error) {
        return error;
      }
      return undefined;
    };
    expect(thrownBy(() => context.throwIfAborted())).toBe(CANCELLED_REASON);
    expect(thrownBy(throwIfAborted)).toBe(CANCELLED_REASON);
    expect(context.signal.aborted).toBe(true);
    expect(context.signal.reason).toBe(CANCELLED_REASON);
    release();
    await ctx.stop();
  });

  it('ignores a request for a job it does not run', async () => {
    const ctx = await start(
      {
        ping: async ({ text }) => ({ echoed: text }),
        pause: async () => null,
      },
      60_000,
    );
    expect(await redis.connection().publish(cancelChannel(redis.prefix, pings.name), 'no-such-job')).toBe(1);
    const job = await ctx.queue.add('ping', { text: 'still works' }, pings.defaultJobOptions);
    expect(await job.waitUntilFinished(ctx.events, 5_000)).toEqual({ echoed: 'still works' });
    await ctx.stop();
  });
});
