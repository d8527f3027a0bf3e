import { CANCEL_MARKER_TTL_SECONDS, cancelChannel, cancelMarkerKey } from '@jobfleet/queue-contracts';
import { queuePrefix, type RedisClient } from '@jobfleet/service-kit';
import type { Job } from 'bullmq';
import { clientState } from './job-state.js';
import type { GatewayQueue } from './queues.js';
import type { JobState } from './schemas/jobs.js';

/** What a cancel request did: removed a queued job, asked a worker to abort an active one, or nothing. */
export type CancelOutcome =
  | { kind: 'removed' }
  | { kind: 'signalled' }
  | { kind: 'finished'; state: JobState }
  | { kind: 'gone' };

/** States whose job no worker holds yet: cancelling removes the job. */
const QUEUED: ReadonlySet<JobState> = new Set(['waiting', 'prioritized', 'delayed', 'waiting-children']);

/**
 * Asks whichever worker process holds `jobId` to abort it: a marker key (so a
 * worker that misses the message still finds it when it re-checks) and a
 * message on the queue's cancel channel, sent in one round trip, in that order.
 * `prefix` is `JOBFLEET_PREFIX`; the marker lies in the queue's slot on Redis Cluster.
 */
export async function signalCancel(
  redis: RedisClient,
  prefix: string,
  queue: string,
  jobId: string,
  by: string,
): Promise<void> {
  const marker = JSON.stringify({ by, at: new Date().toISOString() });
  const keyPrefix = queuePrefix(redis, prefix, queue);
  const results = await redis
    .multi()
    .set(cancelMarkerKey(keyPrefix, queue, jobId), marker, 'EX', CANCEL_MARKER_TTL_SECONDS)
    .publish(cancelChannel(keyPrefix, queue), jobId)
    .exec();
  const failed = results?.find(([error]) => error)?.[0];
  if (failed) throw failed;
}

/**
 * Cancels one job: a job that waits (waiting, prioritized, delayed) is removed;
 * an active one is signalled to its worker. BullMQ refuses to remove a job
 * whose lock a worker took meanwhile; it is then treated as active.
 */
export async function cancelJob(
  redis: RedisClient,
  prefix: string,
  entry: GatewayQueue,
  job: Job,
  by: string,
): Promise<CancelOutcome> {
  const id = String(job.id);
  let state = clientState(await job.getState(), job);
  // A few tries: each failed removal means the job moved (a worker took it, or it went away).
  for (let tries = 0; state && QUEUED.has(state) && tries < 3; tries++) {
    if ((await entry.queue.remove(id)) === 1) return { kind: 'removed' };
    const again = await entry.queue.getJob(id);
    state = again ? clientState(await again.getState(), again) : undefined;
  }
  if (state === undefined) return { kind: 'gone' };
  if (QUEUED.has(state)) throw new Error(`job ${id} could not be removed from state ${state}`);
  if (state === 'active') {
    await signalCancel(redis, prefix, entry.contract.name, id, by);
    return { kind: 'signalled' };
  }
  return { kind: 'finished', state };
}
