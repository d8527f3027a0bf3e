import {
  CANCELLED_REASON,
  WEBHOOK_EVENT_TYPES,
  type WebhookEventType,
  webhookDeliveryFor,
  webhookDeliveryId,
  webhooks,
} from '@jobfleet/queue-contracts';
import { perQueueLocked } from './lock.js';
import type { DeadLetterRecords } from './records.js';

export interface CallbackReconcileOptions {
  /** Pending entries read per queue per pass; default 500. */
  batchSize?: number;
  /**
   * Entries younger than this are left to the live path (the worker queues the
   * delivery a moment after the job ends). Default 10 s.
   */
  settleMs?: number;
  /** How long one process may hold a queue's lock; default 60 s. */
  lockTtlMs?: number;
  /** The clock, for tests; defaults to `Date.now()`. */
  now?: number;
}

export interface CallbackReconcileResult {
  /** Per source queue: deliveries the live path had not queued, queued by this pass. */
  queued: Record<string, number>;
  /** Per source queue: jobs that ended and were removed before their delivery was queued; not sendable. */
  lost: Record<string, number>;
  /** Queues another process was reconciling at the time (skipped here). */
  busy: string[];
}

/**
 * Queues the completion webhooks the live path missed. A worker puts a job
 * that asked for one in its queue's pending set before running it and takes it
 * out once the delivery is added; an entry older than `settleMs` means the
 * worker died between BullMQ recording the ending and the add, Redis refused
 * the add, or the job is still running or waiting to retry. For each such entry
 * this reads the job: ended (completed, failed for good, cancelled), its
 * delivery is added under the live path's id, so one it did add is not
 * repeated; still running or retrying, the entry is looked at again a
 * `settleMs` later; removed (retention, or a cancel that removed a waiting job),
 * the entry is dropped, and counted lost unless a delivery for it exists. One
 * process per queue at a time (a Redis lock).
 */
export async function reconcileCallbacks(
  store: DeadLetterRecords,
  options: CallbackReconcileOptions = {},
): Promise<CallbackReconcileResult> {
  const { done, busy } = await perQueueLocked(
    store.client,
    [...store.contracts.keys()].filter((queue) => queue !== webhooks.name),
    store.keys.callbacksLock,
    options.lockTtlMs ?? 60_000,
    (queue) => reconcileQueue(store, queue, options),
  );
  const result: CallbackReconcileResult = { queued: {}, lost: {}, busy };
  for (const [queue, { queued, lost }] of done) {
    result.queued[queue] = queued;
    result.lost[queue] = lost;
  }
  return result;
}

async function reconcileQueue(
  store: DeadLetterRecords,
  queue: string,
  options: CallbackReconcileOptions,
): Promise<{ queued: number; lost: number }> {
  const { batchSize = 500, settleMs = 10_000 } = options;
  const now = options.now ?? Date.now();
  const { client } = store;
  const pending = store.keys.pendingCallbacks(queue);
  const ids = await client.zrange(pending, '-inf', now - settleMs, 'BYSCORE', 'LIMIT', 0, batchSize);
  const source = store.sourceQueue(queue);
  const deliveries = store.sourceQueue(webhooks.name);
  let queued = 0;
  let lost = 0;
  for (const id of ids) {
    const job = await source.getJob(id);
    if (!job) {
      // One EXISTS for the three kinds of ending: the keys share the `webhooks` queue's slot.
      const found = await client.exists(
        ...WEBHOOK_EVENT_TYPES.map((type) => deliveries.toKey(webhookDeliveryId(queue, id, type))),
      );
      if (found === 0) lost += 1;
      await client.zrem(pending, id);
      continue;
    }
    const state = await job.getState();
    if (state !== 'completed' && state !== 'failed') {
      // Running, or waiting for its next attempt: not ended yet.
      await client.zadd(pending, 'XX', now, id);
      continue;
    }
    const type: WebhookEventType =
      state === 'completed'
        ? 'job.completed'
        : job.failedReason === CANCELLED_REASON
          ? 'job.cancelled'
          : 'job.failed';
    const delivery = webhookDeliveryFor(queue, job, type);
    if (delivery) {
      const existed = await client.exists(deliveries.toKey(delivery.opts.jobId));
      await deliveries.add(delivery.name, delivery.data, delivery.opts);
      if (existed === 0) queued += 1;
    }
    await client.zrem(pending, id);
  }
  return { queued, lost };
}
