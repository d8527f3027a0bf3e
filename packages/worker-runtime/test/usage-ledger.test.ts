import { withOrigin } from '@jobfleet/queue-contracts';
import { createLogger, createMetricsRegistry } from '@jobfleet/service-kit';
import { useTestRedis } from '@jobfleet/test-utils';
import { Queue, QueueEvents } from 'bullmq';
import { describe, expect, it } from 'vitest';
import {
  createWorkerRuntime,
  quantileFromBuckets,
  readUsage,
  USAGE_BUCKETS,
  usageKey,
  utcDay,
} from '../src/index.js';
import { pings } from './fixture-contract.js';

const silent = createLogger({ service: 'test', level: 'silent' });

describe('usage ledger', () => {
  const redis = useTestRedis();

  it('counts every finished attempt per tenant, queue, job name and outcome, with run-time buckets', async () => {
    const runtime = createWorkerRuntime({
      contract: pings,
      handlers: {
        ping: async ({ text }) => {
          if (text === 'fail') throw new Error('boom');
          return { echoed: text };
        },
        pause: async () => null,
      },
      connection: redis.connection(),
      prefix: redis.prefix,
      logger: silent,
      registry: createMetricsRegistry(),
    });
    const queue = new Queue(pings.name, { connection: redis.connection(), prefix: redis.prefix });
    const events = new QueueEvents(pings.name, { connection: { url: redis.url }, prefix: redis.prefix });
    await events.waitUntilReady();
    const acme = withOrigin(pings.defaultJobOptions, { client: 'svc', tenant: 'acme' });
    const jobs = await Promise.all([
      queue.add('ping', { text: 'a' }, acme),
      queue.add('ping', { text: 'b' }, acme),
      queue.add('ping', { text: 'fail' }, acme),
      queue.add('ping', { text: 'c' }, pings.defaultJobOptions),
    ]);
    await Promise.allSettled(jobs.map((job) => job.waitUntilFinished(events, 5_000)));
    await runtime.close();
    const day = utcDay(Date.now());
    const [acmeRow] = await readUsage(redis.connection(), redis.prefix, 'acme', day);
    expect(acmeRow).toMatchObject({
      queue: 'pings',
      jobName: 'ping',
      counts: { completed: 2, retried: 2, dead_lettered: 1, cancelled: 0 },
    });
    expect(acmeRow?.buckets.reduce((a, b) => a + b, 0)).toBe(5);
    const [defaultRow] = await readUsage(redis.connection(), redis.prefix, 'default', day);
    expect(defaultRow?.counts.completed).toBe(1);
    const ttl = await redis.connection().ttl(usageKey(redis.prefix, 'acme', day));
    expect(ttl).toBeGreaterThan(40 * 86_400);
    expect(ttl).toBeLessThanOrEqual(42 * 86_400);
    await Promise.all([events.close(), queue.close()]);
  });

  it('estimates quantiles from buckets as histogram_quantile does', () => {
    const buckets = new Array(USAGE_BUCKETS.length + 1).fill(0);
    buckets[USAGE_BUCKETS.indexOf(0.1)] = 10; // ten attempts in (0.05, 0.1]
    expect(quantileFromBuckets(buckets, 0.5)).toBeCloseTo(0.075);
    expect(quantileFromBuckets(new Array(USAGE_BUCKETS.length + 1).fill(0), 0.5)).toBeNull();
  });
});
