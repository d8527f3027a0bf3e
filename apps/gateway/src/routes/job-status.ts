import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { originOf, tenantOf } from '@jobfleet/queue-contracts';
import type { Job } from 'bullmq';
import type { FastifyPluginAsync } from 'fastify';
import { authorizeQueue, principalOf } from '../auth.js';
import { JobNotFoundError } from '../errors.js';
import { clientState } from '../job-state.js';
import { errorResponses } from '../openapi.js';
import { usingRedis } from '../redis-availability.js';
import { JobParams, type JobState, JobStatus } from '../schemas.js';
import { canSee } from '../tenancy.js';
import type { QueueRouteOptions } from './options.js';

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
 * `GET /v1/queues/:queue/jobs/:id` → 200 with the job's status; 404 when the
 * job does not exist, was removed, or belongs to a tenant the key may not see.
 */
export const jobStatusRoutes: FastifyPluginAsync<QueueRouteOptions> = async (app, options) => {
  const { queues, auth, redis, rateLimit } = options;
  app.withTypeProvider<TypeBoxTypeProvider>().get(
    '/v1/queues/:queue/jobs/:id',
    {
      schema: {
        tags: ['jobs'],
        summary: 'Get a job',
        description:
          'State, payload, options, progress, attempts, result or failure reason and timestamps of one job.',
        params: JobParams,
        response: {
          200: { ...JobStatus, description: 'The job.' },
          ...errorResponses(401, 403, 404, 429, 503),
        },
      },
      onRequest: [authorizeQueue(auth, 'read'), rateLimit],
    },
    async (request) => {
      const { queue: name, id } = request.params;
      const entry = queues.require(name);
      const found = await usingRedis(redis, async () => {
        const job = await entry.queue.getJob(id);
        return job ? { job, state: await job.getState() } : undefined;
      });
      const state = found && clientState(found.state, found.job);
      if (!found || !state || !canSee(principalOf(request), found.job)) throw new JobNotFoundError(name, id);
      return toJobStatus(found.job, name, state);
    },
  );
};
