import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { originOf, webhookDeliveryFor, webhooks } from '@jobfleet/queue-contracts';
import type { FastifyPluginAsync } from 'fastify';
import { Type } from 'typebox';
import { authorizeQueue, principalOf } from '../auth.js';
import { cancelJob } from '../cancellation.js';
import { JobFinishedError, JobNotFoundError, NotJobOwnerError } from '../errors.js';
import { errorResponses } from '../openapi.js';
import { usingRedis } from '../redis-availability.js';
import { describeOutcome } from '../request-log.js';
import { CancelAccepted, JobParams } from '../schemas/jobs.js';
import { grants, scopeFor } from '../scopes.js';
import { canSee } from '../tenancy.js';

/**
 * `DELETE /v1/queues/:queue/jobs/:id`: a waiting, prioritized or delayed job
 * is removed → 204; an active job is signalled to the worker holding it, in
 * whichever process, which aborts it → 202 (it then ends as `cancelled`); a
 * finished job → 409. A key with `<queue>:enqueue` may cancel the jobs it
 * posted itself; `<queue>:manage` may cancel any job (of its tenant).
 */
export const cancelRoutes: FastifyPluginAsync = async (app) => {
  const { queues, auth, redis, config, checkRateLimit: rateLimit } = app;
  app.withTypeProvider<TypeBoxTypeProvider>().delete(
    '/v1/queues/:queue/jobs/:id',
    {
      schema: {
        tags: ['jobs'],
        summary: 'Cancel a job',
        description:
          'Removes a job that has not started (204), or aborts a running one through its worker (202; the job ends as `cancelled`, without retry or dead letter). Needs `<queue>:enqueue` for the jobs this key posted, `<queue>:manage` for any.',
        params: JobParams,
        response: {
          202: {
            ...CancelAccepted,
            description: 'The job is running; its worker has been told to abort it.',
          },
          204: { ...Type.Null(), description: 'The job had not started; it was removed.' },
          ...errorResponses(
            401,
            [403, 'The API key lacks `<queue>:manage`, and did not post this job itself.'],
            404,
            [409, 'The job has already finished (completed, failed or cancelled).'],
            429,
            503,
            504,
          ),
        },
      },
      onRequest: [authorizeQueue(auth, ['enqueue', 'manage']), rateLimit],
    },
    async (request, reply) => {
      const { queue: name, id } = request.params;
      const principal = principalOf(request);
      const entry = queues.require(name);
      const outcome = await usingRedis(
        redis,
        async () => {
          const job = await entry.queue.getJob(id);
          if (!job || !canSee(principal, job)) return { kind: 'gone' as const };
          if (!grants(principal.scopes, name, 'manage') && originOf(job)?.client !== principal.id) {
            throw new NotJobOwnerError(principal.id, scopeFor(name, 'manage'));
          }
          const cancelled = await cancelJob(redis, config.jobfleetPrefix, entry, job, principal.id);
          // A removed job never reaches a worker: its completion webhook is announced here. (An
          // active one is announced by the worker that ends it.)
          const delivery =
            cancelled.kind === 'removed'
              ? webhookDeliveryFor(name, job, 'job.cancelled', Date.now())
              : undefined;
          if (delivery) {
            await queues
              .require(webhooks.name)
              .queue.add(delivery.name, delivery.data, delivery.opts)
              .catch((err: unknown) =>
                request.log.error(
                  { err, queue: name, job_id: id, webhook_id: delivery.opts.jobId },
                  'could not queue the completion webhook of a removed job',
                ),
              );
          }
          return cancelled;
        },
        { writes: true },
      );
      const log = { queue: name, job_id: id, client: principal.id };
      switch (outcome.kind) {
        case 'gone':
          throw new JobNotFoundError(name, id);
        case 'finished':
          throw new JobFinishedError(id, name, outcome.state);
        case 'removed':
          describeOutcome(request, 'queued job cancelled and removed', log);
          return reply.code(204).send(null);
        case 'signalled':
          describeOutcome(request, 'active job cancellation requested', log);
          return reply.code(202).send({ id, queue: name, state: 'cancelling' as const });
      }
    },
  );
};
