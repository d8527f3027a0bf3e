import { createLogger, createMetricsRegistry } from '@jobfleet/service-kit';
import type { TestRedis } from '@jobfleet/test-utils';
import { Queue, QueueEvents } from 'bullmq';
import { createWorkerRuntime, type HandlerMap, type WorkerRuntimeOptions } from '../src/index.js';
import { pings } from './fixture-contract.js';

/**
 * A runtime serving `pings` with `handlers` on the test's Redis (a silent
 * logger, its own registry, `options` over those), with a queue and queue
 * events, all ready; `stop()` closes the three.
 */
export async function startPings(
  redis: TestRedis,
  handlers: HandlerMap<typeof pings>,
  options: Partial<WorkerRuntimeOptions<typeof pings>> = {},
) {
  const registry = createMetricsRegistry();
  const runtime = createWorkerRuntime({
    contract: pings,
    handlers,
    connection: redis.connection(),
    prefix: redis.prefix,
    logger: createLogger({ service: 'test', level: 'silent' }),
    registry,
    ...options,
  });
  const queue = new Queue(pings.name, { connection: redis.connection(), prefix: redis.prefix });
  const events = new QueueEvents(pings.name, { connection: { url: redis.url }, prefix: redis.prefix });
  await Promise.all([runtime.worker.waitUntilReady(), events.waitUntilReady()]);
  const stop = async () => {
    await runtime.close();
    await Promise.all([events.close(), queue.close()]);
  };
  return { runtime, registry, queue, events, stop };
}
