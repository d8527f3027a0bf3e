import { DeadLetterStore } from '@jobfleet/dead-letter-store';
import {
  deadLetters,
  pendingCallbacksKey,
  webhookDeliveryId,
  webhooks,
  withCallback,
  withOrigin,
} from '@jobfleet/queue-contracts';
import { createLogger, createMetricsRegistry } from '@jobfleet/service-kit';
import { promtoolCheckMetrics, useTestRedis, workerContractSuite } from '@jobfleet/test-utils';
import { Queue, QueueEvents } from 'bullmq';
import { describe, expect, it } from 'vitest';
import { createWorkerRuntime, type HandlerMap } from '../src/index.js';
import { pings } from './fixture-contract.js';
import { frozenWorker } from './frozen-worker.js';
import { startPings } from './pings-runtime.js';

const silent = createLogger({ service: 'test', level: 'silent' });

const handlers: HandlerMap<typeof pings> = {
  ping: async ({ text }) => ({ echoed: text }),
  pause: async ({ ms }, { signal }) => {
    await new Promise((resolve) => setTimeout(resolve, ms, { signal }));
    return null;
  },
};

workerContractSuite({
  contract: pings,
  valid: { name: 'ping', data: { text: 'hello' } },
  invalid: { name: 'ping', data: { text: 42 } },
  async start({ prefix, connection, wrap }) {
    const runtime = createWorkerRuntime({
      contract: pings,
      handlers: wrap(handlers),
      connection,
      prefix,
      logger: silent,
      registry: createMetricsRegistry(),
    });
    await runtime.worker.waitUntilReady();
    return { close: async () => void (await runtime.close()) };
  },
});

describe('worker runtime', () => {
  const redis = useTestRedis();

  const start = () => startPings(redis, handlers);

  it('counts outcomes and durations in the core metrics, with closed label sets', async () => {
    const { runtime, registry, queue, events } = await start();
    const ok = await queue.add('ping', { text: 'a' }, pings.defaultJobOptions);
    const bad = await queue.add('ping', { text: 1 }, pings.defaultJobOptions);
    const stray = await queue.add('no-such-job', {}, pings.defaultJobOptions);
    await ok.waitUntilFinished(events);
    await expect(bad.waitUntilFinished(events)).rejects.toThrow(/invalid payload/);
    await expect(stray.waitUntilFinished(events)).rejects.toThrow(/no job named "no-such-job"/);
    await runtime.close();
    await events.close();
    const processed = await registry.getSingleMetric('jobfleet_jobs_processed_total')?.get();
    const values = Object.fromEntries(
      (processed?.values ?? [])
        .filter((v) => v.value > 0)
        .map((v) => [`${v.labels.job_name}/${v.labels.outcome}`, v.value]),
    );
    expect(values).toEqual({ 'ping/completed': 1, 'ping/dead_lettered': 1, 'unknown/dead_lettered': 1 });
    const text = await registry.metrics();
    // Every contract job and outcome has a series from the start, so the first event is visible to rate().
    expect(text).toContain(
      'jobfleet_jobs_processed_total{queue="pings",job_name="pause",outcome="cancelled"} 0',
    );
    expect(text).toContain('jobfleet_jobs_stalled_total{queue="pings"} 0');
    expect(text).toContain('jobfleet_job_wait_seconds_count{queue="pings",job_name="pause"} 0');
    expect(text).toContain(
      'jobfleet_job_duration_seconds_count{queue="pings",job_name="pause",outcome="cancelled"} 0',
    );
    expect(text).toMatch(
      /jobfleet_job_duration_seconds_count\{queue="pings",job_name="ping",outcome="completed"\} 1/,
    );
    expect(text).toMatch(/jobfleet_job_wait_seconds_count\{queue="pings",job_name="ping"\} 2/);
    expect(text).toMatch(/jobfleet_worker_active_jobs\{queue="pings"\} 0/);
    expect(promtoolCheckMetrics(text)).toBe('');
    await queue.close();
  });

  it('dead-letters a job that stalled past the limit, once', async () => {
    const queue = new Queue(pings.name, { connection: redis.connection(), prefix: redis.prefix });
    const frozen = frozenWorker(redis, pings.name);
    const job = await queue.add('ping', { text: 'a' }, pings.defaultJobOptions);
    await frozen.taken;
    const dlqEvents = new QueueEvents(deadLetters.name, {
      connection: { url: redis.url },
      prefix: redis.prefix,
    });
    const recorded = new Promise<string>((resolve) => dlqEvents.on('added', ({ jobId }) => resolve(jobId)));
    await dlqEvents.waitUntilReady();
    const { registry, stop } = await startPings(redis, handlers, {
      workerOptions: { stalledInterval: 300, maxStalledCount: 0 },
    });
    const recordId = await recorded;
    const dlq = new Queue(deadLetters.name, { connection: redis.connection(), prefix: redis.prefix });
    const record = await dlq.getJob(recordId);
    expect(record?.data).toMatchObject({
      jobId: job.id,
      failedReason: 'job stalled more than allowable limit',
    });
    expect(await dlq.count()).toBe(1);
    const text = await registry.metrics();
    expect(text).toMatch(/jobfleet_jobs_stalled_total\{queue="pings"\} 1/);
    await stop();
    await frozen.close();
    await Promise.all([dlqEvents.close(), dlq.close(), queue.close()]);
  });

  it('writes no dead-letter record when told not to (the consumer of dead-letters itself)', async () => {
    const { runtime, queue, events } = await startPings(redis, handlers, { deadLetterFailures: false });
    const job = await queue.add('ping', { text: 1 }, pings.defaultJobOptions);
    await expect(job.waitUntilFinished(events)).rejects.toThrow(/invalid payload/);
    await runtime.close();
    const dlq = new Queue(deadLetters.name, { connection: redis.connection(), prefix: redis.prefix });
    expect(await dlq.count()).toBe(0);
    await Promise.all([events.close(), queue.close(), dlq.close()]);
  });

  it('records BullMQ per-minute metrics the dashboard reads', async () => {
    const { runtime, queue, events } = await start();
    const job = await queue.add('ping', { text: 'a' });
    await job.waitUntilFinished(events);
    await runtime.close();
    await events.close();
    const metrics = await queue.getMetrics('completed');
    expect(metrics.meta.count).toBe(1);
    await queue.close();
  });
});

describe('worker runtime: completion webhooks', () => {
  const redis = useTestRedis();
  const withWebhook = withOrigin(
    withCallback({ ...pings.defaultJobOptions, attempts: 1 }, { url: 'https://example.com/hooks/jobfleet' }),
    { client: 'signup-service' },
  );
  const pending = () => pendingCallbacksKey(redis.prefix, pings.name);
  const deliveryOf = async (jobId: string | undefined) => {
    const deliveries = new Queue(webhooks.name, { connection: redis.connection(), prefix: redis.prefix });
    const job = await deliveries.getJob(webhookDeliveryId(pings.name, String(jobId), 'job.completed'));
    await deliveries.close();
    return job?.data as { event?: { data?: { result?: unknown } } } | undefined;
  };

  it('keeps a job that asked for a webhook pending while it runs, and clears it once the delivery is queued', async () => {
    const client = redis.connection();
    const seen: Record<string, string | null> = {};
    const { queue, events, stop } = await startPings(redis, {
      ...handlers,
      ping: async ({ text }, { job }) => {
        seen[text] = await client.zscore(pending(), String(job.id));
        return { echoed: text };
      },
    });
    const asked = await queue.add('ping', { text: 'a' }, withWebhook);
    const plain = await queue.add('ping', { text: 'b' }, pings.defaultJobOptions);
    await asked.waitUntilFinished(events);
    await plain.waitUntilFinished(events);
    await stop();
    // Scored with the time its attempt started; a job without a callback never has an entry.
    expect(seen).toEqual({ a: expect.stringMatching(/^\d{13}$/), b: null });
    expect(await client.zcard(pending())).toBe(0);
    expect((await deliveryOf(asked.id))?.event?.data?.result).toEqual({ echoed: 'a' });
  });

  it('leaves the entry when Redis refuses the delivery, and the DLQ store queues it later', async () => {
    const client = redis.connection();
    // The `webhooks` queue's meta key of the wrong type: BullMQ's add fails before it writes anything.
    const meta = `${redis.prefix}:${webhooks.name}:meta`;
    await client.set(meta, 'not a hash');
    const { queue, events, stop } = await startPings(redis, handlers);
    const job = await queue.add('ping', { text: 'c' }, withWebhook);
    await job.waitUntilFinished(events);
    // `close` waits for the delivery's add to settle, refused here.
    await stop();
    expect(await deliveryOf(job.id)).toBeUndefined();
    expect(await client.zrange(pending(), 0, -1)).toEqual([job.id]);

    await client.del(meta);
    const store = new DeadLetterStore({
      connection: redis.connection(),
      prefix: redis.prefix,
      queues: [pings],
    });
    const result = await store.reconcileCallbacks({ settleMs: 0 });
    await store.close();
    expect(result.queued).toEqual({ pings: 1 });
    expect((await deliveryOf(job.id))?.event?.data?.result).toEqual({ echoed: 'c' });
    expect(await client.zcard(pending())).toBe(0);
  });
});
