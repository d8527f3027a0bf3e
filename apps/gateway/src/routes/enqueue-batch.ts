import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { principalOf } from '../auth.js';
import { callbackHook } from '../callbacks.js';
import { findExisting, jobPreparer, type PreparedJob } from '../enqueue-jobs.js';
import { JobIdTakenError } from '../errors.js';
import type { EnqueueResult } from '../metrics.js';
import { idempotencyHooks, idempotencyKeyOf } from '../plugins/idempotency.js';
import { usingRedis } from '../redis-availability.js';
import { reportTenantHooks } from '../report-tenant.js';
import { describeOutcome } from '../request-log.js';
import {
  BatchAccepted,
  type BatchBody,
  batchBodySchema,
  IdempotencyHeaders,
  MAX_BATCH_JOBS,
} from '../schemas/enqueue.js';
import { enqueueRouteBase, withIdempotentId } from './enqueue.js';
import { refuseUnknownQueues } from './unknown-queue.js';

type Outcome = { name: string; duplicate: boolean };

/** Per-job outcomes of an answered batch, for the enqueue counter. */
const outcomes = new WeakMap<FastifyRequest, readonly Outcome[]>();

/** A stored answer as a replay gives it back: every job a duplicate. */
const asReplay = (body: BatchAccepted): BatchAccepted => ({
  jobs: body.jobs.map((job) => ({ ...job, duplicate: true })),
});

/** The jobs of a validated batch body. */
const jobsOf = (body: unknown) => (body as BatchBody).jobs;
/** Where job `i` of a batch is, in messages. */
const at = (i: number) => `/jobs/${i}`;

/**
 * `POST /v1/queues/<queue>/jobs/batch` `{ jobs: [{ name, data, options? }] }`:
 * 1 to 1000 jobs, validated all or nothing (a 400 names every failing index and
 * path), then added in one Redis round trip by the queue's `JobWriter` (two
 * when the batch carries custom job ids, which are looked up first). → 202 `{ jobs: [{
 * id, name, duplicate }] }` in request order; 200 when nothing new was added.
 */
export const enqueueBatchRoutes: FastifyPluginAsync = async (app) => {
  const { queues, auth, redis, metrics } = app;
  const allowPrivateCallbacks = app.config.webhookAllowPrivateNetworks;
  const typed = app.withTypeProvider<TypeBoxTypeProvider>();

  for (const entry of queues.values()) {
    const { contract, writer } = entry;
    const { config, onRequest, errors, labelOf } = enqueueRouteBase(
      app,
      contract,
      'A custom jobId belongs to another tenant, or the Idempotency-Key is still in use.',
    );

    /** Sends `body` with `status` (a replay's too), noting its jobs for the log line and the counter. */
    const answer = (request: FastifyRequest, reply: FastifyReply, status: 200 | 202, body: BatchAccepted) => {
      outcomes.set(request, body.jobs);
      describeOutcome(request, 'batch enqueued', {
        queue: contract.name,
        client: principalOf(request).id,
        jobs: body.jobs.length,
        duplicates: body.jobs.filter((job) => job.duplicate).length,
      });
      reply.code(status);
      return body;
    };
    const idempotent = idempotencyHooks<BatchAccepted>(app, (request, reply, stored) =>
      answer(request, reply, 200, asReplay(stored)),
    );

    typed.post(
      `/v1/queues/${contract.name}/jobs/batch`,
      {
        schema: {
          tags: ['jobs'],
          summary: `Enqueue up to ${MAX_BATCH_JOBS} jobs on ${contract.name} at once`,
          description:
            'All jobs are checked before any is added: one bad job refuses the whole batch (400, with every failing index and path). The jobs are added in one Redis round trip.',
          headers: IdempotencyHeaders,
          body: batchBodySchema(contract),
          response: {
            202: { ...BatchAccepted, description: 'Enqueued; `jobs` in request order.' },
            200: { ...BatchAccepted, description: 'Nothing new enqueued: every job is a duplicate.' },
            ...errors,
          },
        },
        config,
        onRequest,
        preHandler: [
          ...reportTenantHooks(contract.name, jobsOf, at),
          callbackHook(contract.name, jobsOf, allowPrivateCallbacks, at),
          idempotent.claim,
        ],
        preSerialization: idempotent.store,
        onError: idempotent.settle,
        onResponse: async (request, reply) => {
          const principal = request.principal;
          if (!principal) return;
          const counts = new Map<string, { name: string; result: EnqueueResult; n: number }>();
          const add = (name: string, result: EnqueueResult) => {
            const key = `${name}\u0000${result}`;
            const count = counts.get(key) ?? { name, result, n: 0 };
            count.n += 1;
            counts.set(key, count);
          };
          const done = outcomes.get(request);
          if (done && reply.statusCode < 300) {
            for (const { name, duplicate } of done) add(name, duplicate ? 'duplicate' : 'accepted');
          } else {
            const result: EnqueueResult = reply.statusCode >= 500 ? 'failed' : 'rejected';
            const jobs = (request.body as { jobs?: unknown } | undefined)?.jobs;
            if (Array.isArray(jobs) && jobs.length <= MAX_BATCH_JOBS) {
              for (const job of jobs) add(labelOf((job as { name?: unknown } | null)?.name), result);
            } else {
              add('unknown', result);
            }
          }
          for (const { name, result, n } of counts.values()) {
            metrics.countEnqueued(contract.name, name, principal.id, result, n);
          }
        },
      },
      async (request, reply) => {
        const principal = principalOf(request);
        const prepare = jobPreparer(contract, principal);
        const key = idempotencyKeyOf(request);
        const jobs = request.body.jobs.map((body, i) =>
          withIdempotentId(prepare(body), principal.id, key, i),
        );
        const customIds = [...new Set(jobs.flatMap((job) => job.customId ?? []))];
        const existing = await usingRedis(redis, () => findExisting(redis, entry, customIds, principal));
        for (const [id, job] of existing) {
          if (!job.visible) throw new JobIdTakenError(contract.name, id);
        }
        // A custom id that exists, or that an earlier job of this batch uses, adds nothing.
        const claimed = new Set(existing.keys());
        const fresh: PreparedJob[] = [];
        const plan = jobs.map((job) => {
          if (job.customId === undefined) {
            fresh.push(job);
            return { job, duplicate: false };
          }
          const duplicate = claimed.has(job.customId);
          claimed.add(job.customId);
          if (!duplicate) fresh.push(job);
          return { job, duplicate };
        });
        // A write: should no reply come in time, the jobs may exist (504, not 503).
        const added =
          fresh.length > 0 ? await usingRedis(redis, () => writer.addAll(fresh), { writes: true }) : [];
        let next = 0;
        const body = {
          jobs: plan.map(({ job, duplicate }) => ({
            id: duplicate ? (job.customId ?? '') : (added[next++] ?? ''),
            name: job.name,
            duplicate,
          })),
        };
        return answer(request, reply, fresh.length > 0 ? 202 : 200, body);
      },
    );
  }

  refuseUnknownQueues(app, auth, 'POST', '/v1/queues/:queue/jobs/batch');
};
