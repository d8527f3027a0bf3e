import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { QueueContract } from '@jobfleet/queue-contracts';
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { authorizeQueue, principalOf } from '../auth.js';
import { callbackHook } from '../callbacks.js';
import { findExisting, jobPreparer, type PreparedJob } from '../enqueue-jobs.js';
import { JobIdTakenError } from '../errors.js';
import type { EnqueueResult } from '../metrics.js';
import { errorResponses } from '../openapi.js';
import { idempotencyHooks, idempotencyKeyOf, idempotentJobId } from '../plugins/idempotency.js';
import { usingRedis } from '../redis-availability.js';
import { reportTenantHooks } from '../report-tenant.js';
import { describeOutcome } from '../request-log.js';
import {
  EnqueueAccepted,
  type EnqueueBody,
  enqueueBodySchema,
  IdempotencyHeaders,
} from '../schemas/enqueue.js';
import { refuseUnknownQueues } from './unknown-queue.js';

/** The metric result of an enqueue answer, by its status. */
export const resultOf = (statusCode: number): EnqueueResult =>
  statusCode === 202
    ? 'accepted'
    : statusCode < 300
      ? 'duplicate'
      : statusCode >= 500
        ? 'failed'
        : 'rejected';

/** The job location a 202 or 200 points to. */
export const jobLocation = (queue: string, id: string) =>
  `/v1/queues/${queue}/jobs/${encodeURIComponent(id)}`;

/**
 * What the single and the batch enqueue route of a queue share: the job names
 * (for 400 details), authorization and rate limit, the error answers (each
 * words its own 409) and the `job_name` metric label.
 */
export function enqueueRouteBase(app: FastifyInstance, contract: QueueContract, conflict: string) {
  const jobNames = Object.keys(contract.jobs);
  return {
    config: { jobNames, confirmReplication: true },
    onRequest: [authorizeQueue(app.auth, 'enqueue', contract.name), app.checkRateLimit],
    errors: errorResponses(400, 401, 403, 404, [409, conflict], 413, 415, 422, 429, 503, 504),
    /** A posted job name as a label: a name outside the contract is `unknown`, so labels stay a closed set. */
    labelOf: (name: unknown): string =>
      typeof name === 'string' && jobNames.includes(name) ? name : 'unknown',
  };
}

/**
 * `job` with the id derived from the request's `Idempotency-Key` (`index`: its
 * place in a batch), unless it has none or the client chose an id itself: a
 * retry after an unknown outcome then finds the job the first try may have
 * added, and BullMQ never adds a second one with that id.
 */
export function withIdempotentId(
  job: PreparedJob,
  principalId: string,
  idempotencyKey: string | undefined,
  index?: number,
): PreparedJob {
  if (idempotencyKey === undefined || job.customId !== undefined) return job;
  const id = idempotentJobId(principalId, idempotencyKey, index);
  return { ...job, customId: id, opts: { ...job.opts, jobId: id }, shared: false };
}

/**
 * `POST /v1/queues/<queue>/jobs`, one route per catalog queue, each with its
 * contract's body schema: `{ name, data, options? }` → 202 `{ id, queue, name,
 * duplicate: false }`; 200 with `duplicate: true` when an `Idempotency-Key`
 * replays an earlier request or a custom `jobId` exists already. Any other
 * queue name: 404 once the caller is authenticated.
 *
 * In order: authorization and rate limit (`onRequest`), body validation, the
 * route's checks and the `Idempotency-Key` claim (`preHandler`), the handler,
 * the answer stored for the key (`preSerialization`).
 */
export const enqueueRoutes: FastifyPluginAsync = async (app) => {
  const { queues, auth, redis, metrics } = app;
  const allowPrivateCallbacks = app.config.webhookAllowPrivateNetworks;
  const typed = app.withTypeProvider<TypeBoxTypeProvider>();
  const jobOf = (body: unknown) => [body as EnqueueBody];

  for (const entry of queues.values()) {
    const { contract, writer } = entry;
    const { config, onRequest, errors, labelOf } = enqueueRouteBase(
      app,
      contract,
      'The custom jobId belongs to another tenant, or the Idempotency-Key is still in use.',
    );

    /** Sends `body` with `status` (a replay's too): its log fields and `location`. */
    const answer = (
      request: FastifyRequest,
      reply: FastifyReply,
      status: 200 | 202,
      body: EnqueueAccepted,
    ) => {
      describeOutcome(request, body.duplicate ? 'job already enqueued' : 'job enqueued', {
        queue: contract.name,
        job_id: body.id,
        job_name: body.name,
        client: principalOf(request).id,
        duplicate: body.duplicate,
      });
      reply.code(status).header('location', jobLocation(contract.name, body.id));
      return body;
    };
    const idempotent = idempotencyHooks<EnqueueAccepted>(app, (request, reply, stored) =>
      answer(request, reply, 200, { ...stored, duplicate: true }),
    );

    typed.post(
      `/v1/queues/${contract.name}/jobs`,
      {
        schema: {
          tags: ['jobs'],
          summary: `Enqueue a job on ${contract.name}`,
          description: `${contract.description} The body's \`data\` is checked against the contract of the job \`name\`; \`options\` override the queue's defaults.`,
          headers: IdempotencyHeaders,
          body: enqueueBodySchema(contract),
          response: {
            202: { ...EnqueueAccepted, description: 'Enqueued.' },
            200: { ...EnqueueAccepted, description: 'Nothing new enqueued: a replay (`duplicate: true`).' },
            ...errors,
          },
        },
        config,
        onRequest,
        preHandler: [
          ...reportTenantHooks(contract.name, jobOf),
          callbackHook(contract.name, jobOf, allowPrivateCallbacks),
          idempotent.claim,
        ],
        preSerialization: idempotent.store,
        onError: idempotent.settle,
        onResponse: (request, reply, done) => {
          // Unauthenticated requests are nobody's enqueue; the HTTP histogram counts them.
          if (request.principal) {
            const name = (request.body as { name?: unknown } | undefined)?.name;
            metrics.countEnqueued(
              contract.name,
              labelOf(name),
              request.principal.id,
              resultOf(reply.statusCode),
            );
          }
          done();
        },
      },
      async (request, reply) => {
        const principal = principalOf(request);
        const job = withIdempotentId(
          jobPreparer(contract, principal)(request.body),
          principal.id,
          idempotencyKeyOf(request),
        );
        const { customId } = job;
        if (customId !== undefined) {
          const existing = (
            await usingRedis(redis, () => findExisting(redis, entry, [customId], principal))
          ).get(customId);
          if (existing && !existing.visible) throw new JobIdTakenError(contract.name, customId);
          if (existing) {
            return answer(request, reply, 200, {
              id: customId,
              queue: contract.name,
              name: job.name,
              duplicate: true,
            });
          }
        }
        // A write: should no reply come in time, the job may exist (504, not 503).
        const id = await usingRedis(redis, () => writer.add(job), { writes: true });
        return answer(request, reply, 202, {
          id,
          queue: contract.name,
          name: job.name,
          duplicate: false,
        });
      },
    );
  }

  refuseUnknownQueues(app, auth, 'POST', '/v1/queues/:queue/jobs');
};
