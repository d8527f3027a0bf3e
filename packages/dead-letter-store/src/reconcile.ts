import {
  CANCELLED_REASON,
  deadLetterId,
  toDeadLetter,
  webhookDeliveryFor,
  webhooks,
} from '@jobfleet/queue-contracts';
import { entriesFromFlat, type IndexEntry } from './index-scan.js';
import { perQueueLocked } from './lock.js';
import type { DeadLetterRecords } from './records.js';

export interface ReconcileOptions {
  /** Failed jobs read per step (one ZRANGE, one pipelined existence check); default 500. */
  batchSize?: number;
  /** Steps per queue per pass; the cursor keeps the place for the next pass. Default 20. */
  maxBatches?: number;
  /**
   * Each pass re-reads this far behind its cursor: worker hosts' clocks differ,
   * so a failure may be stamped earlier than one already read. Default 60 s.
   */
  overlapMs?: number;
  /**
   * Failures younger than this are left to the live path (the worker writes
   * their record a moment after the failure). Default 10 s.
   */
  settleMs?: number;
  /** How long one process may hold a queue's reconciliation lock; default 60 s. */
  lockTtlMs?: number;
  /** The clock, for tests; defaults to `Date.now()`. */
  now?: number;
}

export interface ReconcileResult {
  /** Per source queue reconciled in this pass: records that were missing and have been written. */
  found: Record<string, number>;
  /** Failed jobs looked at, over all queues. */
  scanned: number;
  /** Queues another process was reconciling at the time (skipped here). */
  busy: string[];
}

/**
 * Catches the final failures whose record the live path missed (the worker
 * died between failing the job and writing the record, Redis refused the
 * write, …). For each source queue, reads its BullMQ `failed` set (scored by
 * failure time) from a cursor kept in Redis, less an overlap, in bounded
 * batches; computes each failure's record id, checks in one pipeline whether
 * the record or a tombstone exists, and writes the missing records from the
 * failed jobs themselves. Cancelled jobs are skipped. One process per queue at
 * a time (a Redis lock).
 *
 * Jobs that BullMQ has already deleted (`removeOnFail` kept none, or retention
 * went first) cannot be found this way.
 */
export async function reconcile(
  store: DeadLetterRecords,
  options: ReconcileOptions = {},
): Promise<ReconcileResult> {
  const { done, busy } = await perQueueLocked(
    store.client,
    store.contracts.keys(),
    store.keys.reconcileLock,
    options.lockTtlMs ?? 60_000,
    (queue) => reconcileQueue(store, queue, options),
  );
  const result: ReconcileResult = { found: {}, scanned: 0, busy };
  for (const [queue, { found, scanned }] of done) {
    result.found[queue] = found;
    result.scanned += scanned;
  }
  return result;
}

async function reconcileQueue(
  store: DeadLetterRecords,
  queue: string,
  options: ReconcileOptions,
): Promise<{ found: number; scanned: number }> {
  const { batchSize = 500, maxBatches = 20, overlapMs = 60_000, settleMs = 10_000 } = options;
  const { client, keys } = store;
  const cursorKey = keys.reconcileCursor(queue);
  const cursor = Number((await client.get(cursorKey)) ?? 0);
  const max = (options.now ?? Date.now()) - settleMs;
  let min = Math.max(0, cursor - overlapMs);
  // How many entries scored exactly `min` have been read already (ties at a batch boundary).
  let offset = 0;
  let reached = cursor;
  let found = 0;
  let scanned = 0;

  for (let batch = 0; batch < maxBatches && min <= max; batch += 1) {
    const flat = await client.zrange(
      keys.failed(queue),
      min,
      max,
      'BYSCORE',
      'LIMIT',
      offset,
      batchSize,
      'WITHSCORES',
    );
    const failures = entriesFromFlat(flat);
    if (failures.length === 0) break;
    scanned += failures.length;
    found += await captureMissing(store, queue, failures);

    const last = failures[failures.length - 1]?.score ?? min;
    const atLast = failures.filter((f) => f.score === last).length;
    offset = last === min ? offset + atLast : atLast;
    min = last;
    if (last > reached) {
      reached = last;
      await client.set(cursorKey, String(reached));
    }
    if (failures.length < batchSize) break;
  }
  // Tombstones below where the next pass starts can never be needed again.
  await client.zremrangebyscore(keys.tombstones(queue), '-inf', `(${reached - overlapMs}`);
  return { found, scanned };
}

/** Writes the records of those failures that have neither a record nor a tombstone; returns how many. */
async function captureMissing(
  store: DeadLetterRecords,
  queue: string,
  failures: IndexEntry[],
): Promise<number> {
  const { client, keys } = store;
  const ids = failures.map((f) => deadLetterId(queue, f.id, f.score));
  const pipeline = client.pipeline();
  for (const id of ids) pipeline.exists(keys.job(id));
  pipeline.zmscore(keys.tombstones(queue), ...ids);
  const replies = (await pipeline.exec()) ?? [];
  const [tombError, tombstones] = replies[ids.length] ?? [];
  if (tombError) throw tombError;
  const removed = (tombstones as (string | null)[] | undefined) ?? [];

  let found = 0;
  for (const [i, failure] of failures.entries()) {
    const [error, exists] = replies[i] ?? [];
    if (error) throw error;
    if (exists === 1 || (removed[i] ?? null) !== null) continue;
    const job = await store.sourceQueue(queue).getJob(failure.id);
    // Gone meanwhile, or retried and failed again (a newer score, read on a later step).
    if (!job || job.finishedOn !== failure.score) continue;
    if (job.failedReason === CANCELLED_REASON) {
      // Never a record: a tombstone spares the next passes (inside the overlap) from reading the job again.
      await client.zadd(keys.tombstones(queue), failure.score, ids[i] ?? '');
      continue;
    }
    await store.capture(toDeadLetter(job, undefined));
    // The live path announces the failure beside its record; it may have missed both. The delivery's
    // id is the live path's, so an announcement it did make is not repeated.
    const delivery = webhookDeliveryFor(queue, job, 'job.failed');
    if (delivery) await store.sourceQueue(webhooks.name).add(delivery.name, delivery.data, delivery.opts);
    found += 1;
  }
  return found;
}
