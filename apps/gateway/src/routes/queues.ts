import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { authenticated, authorizeQueue, principalOf } from '../auth.js';
import { TenantBoundKeyError } from '../errors.js';
import { errorResponses } from '../openapi.js';
import { queueSummary } from '../queue-stats.js';
import { usingRedis } from '../redis-availability.js';
import { describeOutcome } from '../request-log.js';
import { QueueParams } from '../schemas/common.js';
import { PauseState, QueueList, QueueSummary } from '../schemas/queues.js';
import { grants } from '../scopes.js';

/**
 * Queue control: `GET /v1/queues` (every queue the key may read),
 * `GET /v1/queues/:queue` (`<queue>:read`): counts per state, paused or not,
 * connected workers, age of the oldest waiting job. `POST …/pause` and
 * `…/resume` (`<queue>:manage`): pausing stops workers from starting new jobs
 * (running ones finish); jobs can still be enqueued. A queue is shared by every
 * tenant, so a key bound to a tenant may look but not pause or resume.
 */
export const queueRoutes: FastifyPluginAsync = async (app) => {
  const { queues, auth, redis, checkRateLimit: rateLimit } = app;
  const typed = app.withTypeProvider<TypeBoxTypeProvider>();

  typed.get(
    '/v1/queues',
    {
      schema: {
        tags: ['queues'],
        summary: 'List the queues',
        description: 'Every catalog queue the API key holds `<queue>:read` for, with its depth and workers.',
        response: {
          200: { ...QueueList, description: 'The queues the API key may read.' },
          ...errorResponses(401, 429, 503),
        },
      },
      onRequest: [authenticated(auth), rateLimit],
    },
    async (request) => {
      const principal = principalOf(request);
      const readable = [...queues.values()].filter((q) => grants(principal.scopes, q.contract.name, 'read'));
      return {
        queues: await usingRedis(redis, () => Promise.all(readable.map((q) => queueSummary(redis, q)))),
      };
    },
  );

  typed.get(
    '/v1/queues/:queue',
    {
      schema: {
        tags: ['queues'],
        summary: 'Get a queue',
        description: 'Counts per state, paused or not, connected workers, age of the oldest waiting job.',
        params: QueueParams,
        response: {
          200: { ...QueueSummary, description: 'The queue.' },
          ...errorResponses(401, 403, 404, 429, 503),
        },
      },
      onRequest: [authorizeQueue(auth, 'read'), rateLimit],
    },
    async (request) => {
      const entry = queues.require(request.params.queue);
      return usingRedis(redis, () => queueSummary(redis, entry));
    },
  );

  const control = (action: 'pause' | 'resume') =>
    typed.post(
      `/v1/queues/:queue/${action}`,
      {
        schema: {
          tags: ['queues'],
          summary: action === 'pause' ? 'Pause a queue' : 'Resume a queue',
          description:
            action === 'pause'
              ? 'Workers start no new job of this queue until it is resumed; running jobs finish, and jobs can still be enqueued. Idempotent.'
              : 'Workers start jobs of this queue again. Idempotent.',
          params: QueueParams,
          response: {
            200: { ...PauseState, description: 'Whether the queue is paused now.' },
            ...errorResponses(
              401,
              [403, 'The API key lacks `<queue>:manage`, or is bound to a tenant (a queue is shared).'],
              404,
              429,
              503,
              504,
            ),
          },
        },
        onRequest: [authorizeQueue(auth, 'manage'), rateLimit],
      },
      async (request: FastifyRequest<{ Params: { queue: string } }>) => {
        const principal = principalOf(request);
        if (principal.tenant !== undefined) {
          throw new TenantBoundKeyError(principal.id, principal.tenant, `${action} a queue`);
        }
        const entry = queues.require(request.params.queue);
        await usingRedis(redis, () => (action === 'pause' ? entry.queue.pause() : entry.queue.resume()), {
          writes: true,
        });
        describeOutcome(request, `queue ${action}d`, { queue: entry.contract.name, client: principal.id });
        return { queue: entry.contract.name, paused: action === 'pause' };
      },
    );
  control('pause');
  control('resume');
};
