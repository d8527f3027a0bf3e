import { withOrigin } from '@jobfleet/queue-contracts';
import { createLogger, createMetricsRegistry } from '@jobfleet/service-kit';
import { useTestRedis } from '@jobfleet/test-utils';
import { Queue, QueueEvents } from 'bullmq';
import { describe, expect, it } from 'vitest';
import {
  createWorkerRuntime,
  hasEveryRun,
  quantileFromBuckets,
  quantileOfRuns,
  readUsage,
  USAGE_BUCKETS,
  USAGE_KEPT_RUNS,
  UsageLedger,
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

  const ledger = () =>
    new UsageLedger({
      connection: redis.connection(),
      prefix: redis.prefix,
      logger: silent,
      retentionDays: 40,
      flushMs: 60_000,
    });
  // Yesterday: a day still inside the retention, which the keys would otherwise outlive.
  const DAY = utcDay(Date.now() - 86_400_000);
  const AT = Date.parse(`${DAY}T12:00:00Z`);

  it('keeps the exact run times of the first few attempts of a row and day, beside the buckets', async () => {
    const usage = ledger();
    usage.record('acme', 'emails', 'welcome', 'completed', 0.528123, AT);
    usage.record('acme', 'emails', 'welcome', 'retried', 0.0123, AT);
    usage.record('acme', 'emails', 'welcome', 'cancelled', undefined, AT); // never ran: no run time
    usage.record('acme', 'reports', 'daily-report', 'completed', 3.25, AT);
    await usage.flush();
    usage.record('acme', 'emails', 'welcome', 'dead_lettered', 0.9, AT);
    await usage.close();

    const [welcome, report] = await readUsage(redis.connection(), redis.prefix, 'acme', DAY);
    expect(welcome).toMatchObject({
      counts: { completed: 1, retried: 1, dead_lettered: 1, cancelled: 1 },
      runs: [0.528123, 0.0123, 0.9],
    });
    expect(welcome && hasEveryRun(welcome)).toBe(true);
    expect(report?.runs).toEqual([3.25]);
    expect(report && hasEveryRun(report)).toBe(true);
  });

  it(`keeps no more than ${USAGE_KEPT_RUNS} run times, even from replicas flushing at once`, async () => {
    const replicas = [ledger(), ledger(), ledger()];
    // Replica r records runs r+0.1, r+0.2, …: every kept value says which replica and which run it was.
    replicas.forEach((usage, r) => {
      for (let i = 1; i <= 3; i++) usage.record('acme', 'emails', 'welcome', 'completed', r + i / 10, AT);
    });
    await Promise.all(replicas.map((usage) => usage.close()));

    const [row] = await readUsage(redis.connection(), redis.prefix, 'acme', DAY);
    expect(row?.counts.completed).toBe(9);
    expect(row?.runs).toHaveLength(USAGE_KEPT_RUNS);
    expect(new Set(row?.runs).size).toBe(USAGE_KEPT_RUNS);
    for (const run of row?.runs ?? []) expect([0.1, 0.2, 0.3, 1.1, 1.2, 1.3, 2.1, 2.2, 2.3]).toContain(run);
    expect(row && hasEveryRun(row)).toBe(false);
    const hash = await redis.connection().hgetall(usageKey(redis.prefix, 'acme', DAY));
    expect(hash['emails|welcome|runs']).toBe('9');
    expect(Object.keys(hash).filter((field) => field.includes('|run|'))).toHaveLength(USAGE_KEPT_RUNS);
  });

  it('takes quantiles of exact run times by nearest rank, always a measured value', () => {
    expect(quantileOfRuns([0.528], 0.5)).toBe(0.528);
    expect(quantileOfRuns([0.528], 0.95)).toBe(0.528);
    expect(quantileOfRuns([0.9, 0.1], 0.5)).toBe(0.1);
    expect(quantileOfRuns([0.9, 0.1], 0.95)).toBe(0.9);
    expect(quantileOfRuns([0.3, 0.1, 0.2, 0.5, 0.4], 0.5)).toBe(0.3);
    expect(quantileOfRuns([0.3, 0.1, 0.2, 0.5, 0.4], 0.95)).toBe(0.5);
    expect(quantileOfRuns([], 0.5)).toBeNull();
  });

  it('tells whether a row holds every run its buckets count', () => {
    const buckets = new Array(USAGE_BUCKETS.length + 1).fill(0);
    buckets[USAGE_BUCKETS.indexOf(1)] = 2;
    expect(hasEveryRun({ buckets, runs: [0.6, 0.7] })).toBe(true);
    expect(hasEveryRun({ buckets, runs: [0.6] })).toBe(false);
    expect(hasEveryRun({ buckets })).toBe(false); // written before run times were kept
    expect(hasEveryRun({ buckets: buckets.map(() => 0), runs: [] })).toBe(false);
  });
});
