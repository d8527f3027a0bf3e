import { createLogger, createMetricsRegistry } from '@jobfleet/service-kit';
import { useTestRedis, workerContractSuite } from '@jobfleet/test-utils';
import { Queue, QueueEvents } from 'bullmq';
import { describe, expect, it } from 'vitest';
import { createWorkerRuntime, type HandlerMap } from '../src/index.js';
import { pings } from './fixture-contract.js';

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

  async function start() {
    const registry = createMetricsRegistry();
    const runtime = createWorkerRuntime({
      contract: pings,
      handlers,
      connection: redis.connection(),
      prefix: redis.prefix,
      logger: silent,
      registry,
    });
    const queue = new Queue(pings.name, { connection: redis.connection(), prefix: redis.prefix });
    const events = new QueueEvents(pings.name, { connection: { url: redis.url }, prefix: redis.prefix });
    await Promise.all([runtime.worker.waitUntilReady(), events.waitUntilReady()]);
    return { runtime, registry, queue, events };
  }

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
      (processed?.values ?? []).map((v) => [`${v.labels.job_name}/${v.labels.outcome}`, v.value]),
    );
    expect(values).toEqual({ 'ping/completed': 1, 'ping/dead_lettered': 1, 'unknown/dead_lettered': 1 });
    const text = await registry.metrics();
    expect(text).toMatch(
      /jobfleet_job_duration_seconds_count\{queue="pings",job_name="ping",outcome="completed"\} 1/,
    );
    expect(text).toMatch(/jobfleet_job_wait_seconds_count\{queue="pings",job_name="ping"\} 2/);
    expect(text).toMatch(/jobfleet_worker_active_jobs\{queue="pings"\} 0/);
    await queue.close();
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
