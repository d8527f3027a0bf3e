import { DeadLetterStore } from '@jobfleet/dead-letter-store';
import { activeTelemetry, type Logger, type RedisClient } from '@jobfleet/service-kit';
import fp from 'fastify-plugin';
import { GatewayQueues } from '../queues.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** The catalog's queues, as the gateway posts to them. */
    queues: GatewayQueues;
    /** The dead-letter records, and the source queues a redrive sends to. */
    deadLetters: DeadLetterStore;
  }
}

export interface QueuesPluginOptions {
  /** `JOBFLEET_PREFIX`. */
  prefix: string;
  logger: Logger;
}

/**
 * The dead-letter store on the gateway's connection, with its BullMQ queues
 * (the records' and, made up front, every source queue a redrive sends to)
 * listening for errors as the gateway's own queues do: an outage is logged
 * once by the connection, anything else once per error.
 */
function deadLetterStoreOn(redis: RedisClient, prefix: string, logger: Logger): DeadLetterStore {
  // With tracing on, the store's queues trace their adds like the gateway's own queues.
  const store = new DeadLetterStore({ connection: redis, prefix, telemetry: activeTelemetry() });
  const listen = (queue: { name: string; on(event: 'error', listener: (error: Error) => void): unknown }) =>
    queue.on('error', (error) => {
      if (redis.status === 'ready') logger.error({ err: error, queue: queue.name }, 'queue error');
    });
  listen(store.deadLetterQueue);
  for (const name of store.contracts.keys()) listen(store.sourceQueue(name));
  return store;
}

/**
 * `app.queues` and `app.deadLetters`, on `app.redis`; both closed when the app
 * closes, before the connection they share.
 */
export const queuesPlugin = fp<QueuesPluginOptions>(
  async (app, { prefix, logger }) => {
    const queues = new GatewayQueues(app.redis, prefix, logger);
    const deadLetters = deadLetterStoreOn(app.redis, prefix, logger);
    app.decorate('queues', queues);
    app.decorate('deadLetters', deadLetters);
    app.addHook('onClose', async () => {
      await Promise.all([queues.close(), deadLetters.close()]);
    });
  },
  { name: 'jobfleet-queues', dependencies: ['jobfleet-redis'] },
);
