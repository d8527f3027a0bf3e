import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { catalog, withOrigin } from '@jobfleet/queue-contracts';
import type { FastifyPluginAsync } from 'fastify';
import { authenticate, authorizeQueue } from '../auth.js';
import { UnknownQueueError } from '../errors.js';
import type { EnqueueResult } from '../metrics.js';
import { usingRedis } from '../redis-availability.js';
import { EnqueueAccepted, enqueueBodySchema } from '../schemas.js';
import type { QueueRouteOptions } from './options.js';

const resultOf = (statusCode: number): EnqueueResult =>
  statusCode < 300 ? 'accepted' : statusCode >= 500 ? 'failed' : 'rejected';

/**
 * `POST /v1/queues/<queue>/jobs`, one route per catalog queue, each with its
 * contract's body schema: `{ name, data, options? }` → 202 `{ id, queue, name }`.
 * Any other queue name: 404 once the caller is authenticated.
 */
export const enqueueRoutes: FastifyPluginAsync<QueueRouteOptions> = async (app, options) => {
  const { queues, auth, redis, metrics } = options;
  const typed = app.withTypeProvider<TypeBoxTypeProvider>();

  for (const { contract, queue } of queues.values()) {
    const jobNames = Object.keys(contract.jobs);
    typed.post(
      `/v1/queues/${contract.name}/jobs`,
      {
        schema: { body: enqueueBodySchema(contract), response: { 202: EnqueueAccepted } },
        config: { jobNames },
        onRequest: authorizeQueue(auth, 'enqueue', contract.name),
        onResponse: async (request, reply) => {
          // Unauthenticated requests are nobody's enqueue; the HTTP histogram counts them.
          if (!request.principal) return;
          const name = (request.body as { name?: unknown } | undefined)?.name;
          metrics.enqueued.inc({
            queue: contract.name,
            job_name: typeof name === 'string' && jobNames.includes(name) ? name : 'unknown',
            client: request.principal.id,
            result: resultOf(reply.statusCode),
          });
        },
      },
      async (request, reply) => {
        const { name, data, options: requested } = request.body;
        const principal = request.principal;
        if (!principal) throw new Error('enqueue route reached without a principal');
        const origin = { client: principal.id, tenant: principal.tenant };
        const jobOptions = withOrigin({ ...contract.defaultJobOptions, ...requested }, origin);
        const job = await usingRedis(redis, () => queue.add(name, data, jobOptions));
        const id = String(job.id);
        request.log.info(
          { queue: contract.name, job_id: id, job_name: name, client: principal.id },
          'job enqueued',
        );
        reply.code(202).header('location', `/v1/queues/${contract.name}/jobs/${encodeURIComponent(id)}`);
        return { id, queue: contract.name, name };
      },
    );
  }

  app.post(
    '/v1/queues/:queue/jobs',
    {
      // Refuse before the body is read: nothing here could be enqueued anyway.
      onRequest: async (request, reply) => {
        authenticate(auth, request, reply);
        const { queue } = request.params as { queue: string };
        throw new UnknownQueueError(queue.slice(0, 128), Object.keys(catalog).join(', '));
      },
    },
    async () => undefined,
  );
};
