import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { originOf } from '@jobfleet/queue-contracts';
import type { Job } from 'bullmq';
import type { FastifyPluginAsync } from 'fastify';
import { authorizeQueue } from '../auth.js';
import { JobNotFoundError } from '../errors.js';
import { usingRedis } from '../redis-availability.js';
import { JobParams, type JobState, JobStatus } from '../schemas.js';
import type { QueueRouteOptions } from './options.js';

const iso = (ms: number | undefined) => (ms ? new Date(ms).toISOString() : undefined);

/** A job as `GET /v1/queues/:queue/jobs/:id` shows it. */
export function toJobStatus(job: Job, queue: string, state: JobState): JobStatus {
  const status: JobStatus = {
    id: String(job.id),
    queue,
    name: job.name,
    state,
    attemptsMade: job.attemptsMade,
    progress: job.progress,
    data: job.data,
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
 * job does not exist (or was removed). A key bound to a tenant sees only jobs
 * of its own tenant or of none; another tenant's job is a 404, like a missing one.
 */
export const jobStatusRoutes: FastifyPluginAsync<QueueRouteOptions> = async (app, options) => {
  const { queues, auth, redis } = options;
  app.withTypeProvider<TypeBoxTypeProvider>().get(
    '/v1/queues/:queue/jobs/:id',
    {
      schema: { params: JobParams, response: { 200: JobStatus } },
      onRequest: authorizeQueue(auth, 'read'),
    },
    async (request) => {
      const { queue: name, id } = request.params;
      const entry = queues.get(name);
      if (!entry) throw new JobNotFoundError(name, id);
      const found = await usingRedis(redis, async () => {
        const job = await entry.queue.getJob(id);
        return job ? { job, state: await job.getState() } : undefined;
      });
      if (!found || found.state === 'unknown') throw new JobNotFoundError(name, id);
      const jobTenant = originOf(found.job)?.tenant;
      const callerTenant = request.principal?.tenant;
      if (callerTenant && jobTenant && callerTenant !== jobTenant) throw new JobNotFoundError(name, id);
      const state = found.state === 'prioritized' ? 'waiting' : found.state;
      return toJobStatus(found.job, name, state);
    },
  );
};
