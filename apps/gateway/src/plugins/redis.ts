import {
  closeRedis,
  createRedisConnection,
  type Logger,
  type RedisClient,
  redisTopology,
} from '@jobfleet/service-kit';
import fp from 'fastify-plugin';
import type { GatewayConfig } from '../config.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** The producer connection every queue uses: checked before each Redis call. */
    redis: RedisClient;
  }
}

export interface RedisPluginOptions {
  config: GatewayConfig;
  logger: Logger;
  /** A connection to use instead of opening one; whoever passes it closes it. */
  redis?: RedisClient;
}

/**
 * `app.redis`: the gateway's one producer connection, opened from `REDIS_URL`
 * (or Sentinel) unless one is passed in. Closed when the app closes, after the
 * plugins registered later (the queues) have closed — only if opened here.
 */
export const redisPlugin = fp<RedisPluginOptions>(
  async (app, { config, logger, redis: given }) => {
    const redis =
      given ??
      createRedisConnection({
        redis: redisTopology(config),
        flavour: 'producer',
        name: 'gateway',
        logger,
        commandTimeoutMs: config.redisCommandTimeoutMs,
        // Concurrent requests each add a job: one write per turn of the loop, not one per job.
        coalesceWrites: true,
      });
    app.decorate<RedisClient>('redis', redis);
    if (given === undefined) app.addHook('onClose', () => closeRedis(redis));
  },
  { name: 'jobfleet-redis' },
);
