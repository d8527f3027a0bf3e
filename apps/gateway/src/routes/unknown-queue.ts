import type { FastifyInstance, HTTPMethods } from 'fastify';
import { type AuthMode, authenticate } from '../auth.js';
import { unknownQueue } from '../queues.js';

/**
 * Registers `method url` for queue names outside the catalog (the catalog's
 * queues have their own routes): authenticates, then answers 404 before the
 * body is read, as nothing could be enqueued there anyway.
 */
export function refuseUnknownQueues(
  app: FastifyInstance,
  auth: AuthMode,
  method: HTTPMethods,
  url: string,
): void {
  app.route({
    method,
    url,
    schema: { hide: true },
    onRequest: async (request, reply) => {
      authenticate(auth, request, reply);
      const { queue } = request.params as { queue: string };
      throw unknownQueue(queue);
    },
    handler: async () => undefined,
  });
}
