import type { Logger, RedisClient } from '@jobfleet/service-kit';
import type { GatewayMetrics } from './metrics.js';
import type { GatewayQueue, GatewayQueues } from './queues.js';
import type { QueueCounts, QueueSummary } from './schemas/queues.js';

/** The states counted per queue, in BullMQ's names. */
export const COUNTED_STATES = [
  'waiting',
  'prioritized',
  'delayed',
  'active',
  'completed',
  'failed',
  'waiting-children',
] as const satisfies readonly (keyof QueueCounts)[];

/**
 * KEYS[1]: the queue's wait list; ARGV[1]: its job key prefix (`<prefix>:<queue>:`).
 * Returns `{ timestamp, delay }` of the oldest job in the wait list (BullMQ
 * pushes on the left, so the oldest is the last), or nil when it is empty. One
 * call instead of two, so a scrape costs two calls per queue.
 */
const OLDEST_WAITING_SCRIPT = `
local id = redis.call('LINDEX', KEYS[1], -1)
if not id then return nil end
return redis.call('HMGET', ARGV[1] .. id, 'timestamp', 'delay')`;

/** What a scrape needs of one queue. */
export interface QueueDepth {
  counts: QueueCounts;
  /** Seconds since the oldest waiting job became ready to run; `null` when none waits. */
  oldestWaitingAgeSeconds: number | null;
}

async function oldestWaitingAge(
  redis: RedisClient,
  queue: GatewayQueue,
  now: number,
): Promise<number | null> {
  const found = (await redis.eval(
    OLDEST_WAITING_SCRIPT,
    1,
    queue.queue.toKey('wait'),
    queue.queue.toKey(''),
  )) as [string | null, string | null] | null;
  if (!found?.[0]) return null;
  // A delayed job became ready `delay` ms after it was added; it has waited since then.
  const readyAt = Number(found[0]) + Number(found[1] ?? 0);
  return Math.max(0, (now - readyAt) / 1_000);
}

/** Counts per state and the age of the oldest waiting job of one queue. */
export async function queueDepth(redis: RedisClient, queue: GatewayQueue): Promise<QueueDepth> {
  const [counts, oldest] = await Promise.all([
    queue.queue.getJobCounts(...COUNTED_STATES),
    oldestWaitingAge(redis, queue, Date.now()),
  ]);
  const byState = Object.fromEntries(COUNTED_STATES.map((state) => [state, counts[state] ?? 0]));
  return { counts: byState as QueueCounts, oldestWaitingAgeSeconds: oldest };
}

/** Everything `GET /v1/queues/:queue` shows. Asks Redis for the client list too, so not for scrapes. */
export async function queueSummary(redis: RedisClient, queue: GatewayQueue): Promise<QueueSummary> {
  const [depth, paused, workers] = await Promise.all([
    queueDepth(redis, queue),
    queue.queue.isPaused(),
    queue.queue.getWorkersCount(),
  ]);
  return {
    name: queue.contract.name,
    description: queue.contract.description,
    jobNames: Object.keys(queue.contract.jobs),
    paused,
    workers,
    ...depth,
  };
}

/**
 * Sets the queue gauges at scrape time. One refresh reads every queue (two
 * Redis calls per queue) and is reused for `cacheMs`, and concurrent scrapes
 * share one refresh, so scraping never loads Redis. While Redis is away the
 * gauges are left empty rather than stale, and the scrape itself still answers.
 */
export function queueGaugeRefresher(options: {
  redis: RedisClient;
  queues: GatewayQueues;
  metrics: GatewayMetrics;
  cacheMs: number;
  logger: Logger;
}): () => Promise<void> {
  const { redis, queues, metrics, cacheMs, logger } = options;
  let fresh = 0;
  let running: Promise<void> | undefined;
  let failing = false;

  const refresh = async () => {
    try {
      if (redis.status !== 'ready') throw new Error(`redis is ${redis.status}`);
      const all = [...queues.values()];
      const depths = await Promise.all(all.map((queue) => queueDepth(redis, queue)));
      metrics.queueJobs.reset();
      metrics.queueOldestWaiting.reset();
      all.forEach((queue, i) => {
        const depth = depths[i];
        if (!depth) return;
        const name = queue.contract.name;
        for (const state of COUNTED_STATES)
          metrics.queueJobs.set({ queue: name, state }, depth.counts[state]);
        metrics.queueOldestWaiting.set({ queue: name }, depth.oldestWaitingAgeSeconds ?? 0);
      });
      fresh = performance.now() + cacheMs;
      failing = false;
    } catch (error) {
      metrics.queueJobs.reset();
      metrics.queueOldestWaiting.reset();
      fresh = 0;
      if (!failing) logger.warn({ err: error }, 'could not read the queue gauges; leaving them empty');
      failing = true;
    }
  };

  return () => {
    if (performance.now() < fresh) return Promise.resolve();
    running ??= refresh().finally(() => {
      running = undefined;
    });
    return running;
  };
}
