import { type JobOrigin, type QueueContract, withCallback, withOrigin } from '@jobfleet/queue-contracts';
import type { RedisClient } from '@jobfleet/service-kit';
import type { JobsOptions } from 'bullmq';
import type { Principal } from './auth.js';
import type { JobToAdd, JobWriter } from './job-writer.js';
import type { GatewayQueue } from './queues.js';
import type { EnqueueBody } from './schemas/enqueue.js';
import { canSee } from './tenancy.js';

/** One job, ready for the queue's {@link JobWriter}. */
export interface PreparedJob extends JobToAdd {
  /** The client's own job id, if it gave one. */
  readonly customId: string | undefined;
}

/** The origin a principal's jobs record. */
export const originFor = (principal: Principal): JobOrigin => ({
  client: principal.id,
  tenant: principal.tenant,
});

type Preparer = (body: EnqueueBody) => PreparedJob;

/** Each principal's preparer per queue: a principal (an API key) lives as long as the gateway. */
const preparers = new WeakMap<Principal, Map<string, Preparer>>();

/**
 * Turns validated request jobs into jobs as BullMQ takes them: the contract's
 * default options, overridden by the client's, plus who posted it (outside the
 * payload) and, when asked for, its completion callback (see `callbacks.ts`,
 * which checks it first). Jobs without options of their own share one options
 * object per principal and queue, made once — not one per request or per job
 * of a batch (BullMQ copies options, never changes them).
 */
export function jobPreparer(contract: QueueContract, principal: Principal): Preparer {
  let byQueue = preparers.get(principal);
  if (byQueue === undefined) {
    byQueue = new Map();
    preparers.set(principal, byQueue);
  }
  let prepare = byQueue.get(contract.name);
  if (prepare === undefined) {
    prepare = preparerFor(contract, originFor(principal));
    byQueue.set(contract.name, prepare);
  }
  return prepare;
}

function preparerFor(contract: QueueContract, origin: JobOrigin): Preparer {
  const plain: JobsOptions = withOrigin({ ...contract.defaultJobOptions }, origin);
  return (body) => {
    const requested = body.options;
    if (requested === undefined)
      return { name: body.name, data: body.data, opts: plain, shared: true, customId: undefined };
    const { callback, ...rest } = requested;
    const own: JobsOptions = withOrigin({ ...contract.defaultJobOptions, ...rest }, origin);
    const opts = callback ? withCallback(own, callback) : own;
    return { name: body.name, data: body.data, opts, shared: false, customId: requested.jobId };
  };
}

/** A custom id that exists already: whether the principal may see that job. */
export type ExistingJob = { visible: boolean };

/**
 * Which of `ids` name jobs that exist in `queue`, in one round trip (a
 * pipeline of `HGET <job key> opts`). Asked only for requests that carry
 * custom ids: BullMQ silently keeps the existing job when an id is reused, so
 * this is how the gateway knows to answer `duplicate: true` — or 409 when the
 * job is another tenant's.
 */
export async function findExisting(
  redis: RedisClient,
  queue: GatewayQueue,
  ids: readonly string[],
  principal: Principal,
): Promise<Map<string, ExistingJob>> {
  const found = new Map<string, ExistingJob>();
  if (ids.length === 0) return found;
  const pipeline = redis.pipeline();
  for (const id of ids) pipeline.hget(queue.queue.toKey(id), 'opts');
  const replies = (await pipeline.exec()) ?? [];
  ids.forEach((id, i) => {
    const [error, raw] = replies[i] ?? [null, null];
    if (error) throw error;
    if (typeof raw !== 'string') return;
    let opts: object = {};
    try {
      opts = JSON.parse(raw) as object;
    } catch {
      // Unreadable options: the job exists, and counts as tenant `default`.
    }
    found.set(id, { visible: canSee(principal, { opts }) });
  });
  return found;
}
