import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { originOf, tenantOf } from '@jobfleet/queue-contracts';
import type { Job } from 'bullmq';
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { authorizeQueue, principalOf } from '../auth.js';
import { JobNotFoundError } from '../errors.js';
import { clientState } from '../job-state.js';
import { type JobSnapshot, MAX_WAIT_MS, watchJob } from '../job-wait.js';
import { errorResponses } from '../openapi.js';
import { usingRedis } from '../redis-availability.js';
import { JobParams, type JobState, JobStatus, JobStatusQuery } from '../schemas/jobs.js';
import { canSee } from '../tenancy.js';

const iso = (ms: number | undefined) => (ms ? new Date(ms).toISOString() : undefined);

/** The options a job runs with, as far as a client may set them. */
function visibleOptions(job: Job): JobStatus['options'] {
  const { attempts, backoff, delay, priority } = job.opts;
  const options: JobStatus['options'] = {};
  if (attempts !== undefined) options.attempts = attempts;
  if (backoff !== undefined) options.backoff = backoff;
  if (delay) options.delay = delay;
  if (priority) options.priority = priority;
  return options;
}

/** A job as `GET /v1/queues/:queue/jobs/:id` shows it. */
export function toJobStatus(job: Job, queue: string, state: JobState): JobStatus {
  const client = originOf(job)?.client;
  const status: JobStatus = {
    id: String(job.id),
    queue,
    name: job.name,
    state,
    attemptsMade: job.attemptsMade,
    progress: job.progress,
    data: job.data,
    options: visibleOptions(job),
    origin: client === undefined ? { tenant: tenantOf(job) } : { client, tenant: tenantOf(job) },
    createdAt: new Date(job.timestamp).toISOString(),
  };
  if (state === 'completed') status.result = job.returnvalue;
  if (job.failedReason) status.failedReason = job.failedReason;
  const startedAt = iso(job.processedOn);
  if (startedAt) status.startedAt = startedAt;
  const finishedAt = iso(job.finishedOn);
  if (finishedAt) status.finishedAt = finishedAt;
  return status;
}

/**
 * Reads job `id` of a queue for the requesting key: `undefined` when it does
 * not exist, was removed, or belongs to a tenant the key may not see.
 */
export function jobReader(
  app: Pick<FastifyInstance, 'queues' | 'redis'>,
  request: FastifyRequest,
  queue: string,
  id: string,
): () => Promise<JobSnapshot | undefined> {
  const entry = app.queues.require(queue);
  const principal = principalOf(request);
  return () =>
    usingRedis(app.redis, async () => {
      let job = await entry.queue.getJob(id);
      if (!job || !canSee(principal, job)) return undefined;
      const bullState = await job.getState();
      // Finished between the two reads: read it again for its result, reason and finish time.
      if ((bullState === 'completed' || bullState === 'failed') && !job.finishedOn) {
        job = await entry.queue.getJob(id);
        if (!job) return undefined;
      }
      const state = clientState(bullState, job);
      return state ? { job, state } : undefined;
    });
}

/**
 * Aborts when the client goes away, the app closes, or after `timeoutMs`;
 * `dispose` clears the timer and the listener.
 */
export function waitSignal(
  reply: FastifyReply,
  closing: AbortSignal,
  timeoutMs?: number,
): { signal: AbortSignal; timedOut: () => boolean; dispose: () => void } {
  const controller = new AbortController();
  let timedOut = false;
  const timer =
    timeoutMs === undefined
      ? undefined
      : setTimeout(() => {
          timedOut = true;
          controller.abort();
        }, timeoutMs);
  const gone = () => controller.abort();
  reply.raw.once('close', gone);
  const signal = AbortSignal.any([controller.signal, closing]);
  return {
    signal,
    timedOut: () => timedOut,
    dispose: () => {
      clearTimeout(timer);
      reply.raw.off('close', gone);
    },
  };
}

/**
 * `GET /v1/queues/:queue/jobs/:id` → 200 with the job's status; 404 when the
 * job does not exist, was removed, or belongs to a tenant the key may not see.
 * With `waitMs`, an unfinished job is answered once it finishes (completed,
 * failed for good, cancelled), or after `waitMs` with its state then; the
 * wait follows the queue's shared event stream, not a poll.
 */
export const jobStatusRoutes: FastifyPluginAsync = async (app) => {
  const { auth, redis, checkRateLimit: rateLimit, jobEvents } = app;
  app.withTypeProvider<TypeBoxTypeProvider>().get(
    '/v1/queues/:queue/jobs/:id',
    {
      schema: {
        tags: ['jobs'],
        summary: 'Get a job',
        description: `State, payload, options, progress, attempts, result or failure reason and timestamps of one job. With \`waitMs\` (up to ${MAX_WAIT_MS}), an unfinished job is answered as soon as it finishes (completed, failed for good or cancelled), or after \`waitMs\` with its state then.`,
        params: JobParams,
        querystring: JobStatusQuery,
        response: {
          200: { ...JobStatus, description: 'The job.' },
          ...errorResponses(400, 401, 403, 404, 429, 503),
        },
      },
      onRequest: [authorizeQueue(auth, 'read'), rateLimit],
    },
    async (request, reply) => {
      const { queue: name, id } = request.params;
      const read = jobReader(app, request, name, id);
      const waitMs = request.query.waitMs ?? 0;
      let found: JobSnapshot | undefined;
      if (waitMs === 0) {
        found = await read();
      } else {
        const wait = waitSignal(reply, jobEvents.closing, waitMs);
        try {
          found = await usingRedis(redis, () =>
            watchJob({ events: jobEvents, queue: name, id, read, signal: wait.signal, onUpdate: () => {} }),
          );
          // Progress moves without a state change: answer with the job as it is at the timeout.
          if (found && wait.timedOut()) found = await read();
        } finally {
          wait.dispose();
        }
      }
      if (!found) throw new JobNotFoundError(name, id);
      return toJobStatus(found.job, name, found.state);
    },
  );
};
