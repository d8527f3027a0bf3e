import type { RedisClient } from '@jobfleet/service-kit';
import { withTimeout } from '@jobfleet/service-kit';
import type { FastifyInstance } from 'fastify';
import { type FleetOverview, readOverview } from './overview-data.js';
import { overviewPage } from './overview-page.js';
import type { DashboardQueues } from './queues.js';
import { redisGate } from './redis-gate.js';

export interface OverviewRouteOptions {
  queues: DashboardQueues;
  redis: RedisClient;
  refreshMs: number;
  authDisabled: boolean;
  now?: () => number;
}

/** How long one overview read may take before the page reports Redis as unreachable. */
export const OVERVIEW_READ_TIMEOUT_MS = 3_000;

/**
 * `GET /`: the fleet overview. While Redis is unreachable it answers 503 at
 * once, with the last figures it read (marked stale) and the reason, and it
 * recovers by itself when Redis is back.
 */
export async function overviewRoutes(app: FastifyInstance, options: OverviewRouteOptions): Promise<void> {
  const { queues, redis, refreshMs, authDisabled, now = Date.now } = options;
  let last: FleetOverview | undefined;
  let downSince: number | undefined;
  const redisUsable = redisGate(redis);
  // Concurrent requests share one read, so a burst of page loads costs Redis one read.
  let reading: Promise<FleetOverview> | undefined;
  const readShared = () => {
    reading ??= withTimeout(
      readOverview(queues, now()),
      OVERVIEW_READ_TIMEOUT_MS,
      'the overview read',
    ).finally(() => {
      reading = undefined;
    });
    return reading;
  };

  app.get('/', async (request, reply) => {
    const principal = request.principal;
    if (!principal) throw new Error('the overview route ran without a principal');
    reply.type('text/html; charset=utf-8').header('cache-control', 'no-store');
    try {
      // Without a connection, do not even start: BullMQ may wait for one inside some calls.
      if (!(await redisUsable())) throw new Error(`the connection is ${redis.status}`);
      last = await readShared();
      downSince = undefined;
      return overviewPage({ overview: last, principal, refreshMs, authDisabled });
    } catch (error) {
      downSince ??= now();
      request.log.warn({ err: error }, 'could not read the overview from Redis');
      return reply.code(503).send(
        overviewPage({
          overview: last,
          unavailable: { since: downSince, reason: (error as Error).message },
          principal,
          refreshMs,
          authDisabled,
        }),
      );
    }
  });
}
