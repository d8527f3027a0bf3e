import { entriesFromFlat } from './index-scan.js';
import { withLock } from './lock.js';
import type { DeadLetterRecords } from './records.js';

export interface RetentionOptions {
  /** Records that failed longer ago than this are trimmed (`DLQ_RETENTION_DAYS`). */
  maxAgeMs: number;
  /** Records kept per source queue; the oldest beyond it are trimmed (`DLQ_MAX_RECORDS`). */
  maxRecords: number;
  /** The clock, for tests; defaults to `Date.now()`. */
  now?: number;
  /** Records removed per step; default 500. */
  batchSize?: number;
  /** How long one process may hold the retention lock; default 5 minutes. */
  lockTtlMs?: number;
  /**
   * Tombstones older than this (failure time) are dropped even when
   * reconciliation has not read past them (it is off, or stuck): by then BullMQ
   * has deleted the source jobs. Default 30 days.
   */
  tombstoneMaxAgeMs?: number;
}

/** Records trimmed per source queue, by rule. */
export type TrimCounts = Record<string, { age: number; count: number }>;

export interface RetentionResult {
  /** `false` when another process was applying retention at the time; nothing was done. */
  ran: boolean;
  /** Per source queue that lost records: how many went for their age, how many beyond the count. */
  trimmed: TrimCounts;
}

const DAY_MS = 86_400_000;

/**
 * Applies retention: per source queue, drops records older than `maxAgeMs`,
 * then the oldest beyond `maxRecords`. Removed records are tombstoned like
 * `remove`d ones. One process at a time (a Redis lock); others return
 * `ran: false`.
 */
export async function trim(store: DeadLetterRecords, options: RetentionOptions): Promise<RetentionResult> {
  const batchSize = options.batchSize ?? 500;
  const trimmed: TrimCounts = {};
  const ran = await withLock(
    store.client,
    store.keys.retentionLock,
    options.lockTtlMs ?? 300_000,
    async () => {
      const now = options.now ?? Date.now();
      const cutoff = now - options.maxAgeMs;
      for (const queue of await store.queueNames()) {
        const key = store.keys.byQueue(queue);
        const names = await store.client.smembers(store.keys.names(queue));
        let age = 0;
        let count = 0;
        for (;;) {
          const flat = await store.client.zrange(
            key,
            '-inf',
            `(${cutoff}`,
            'BYSCORE',
            'LIMIT',
            0,
            batchSize,
            'WITHSCORES',
          );
          const entries = entriesFromFlat(flat);
          await store.removeEntries(queue, names, entries);
          age += entries.length;
          if (entries.length < batchSize) break;
        }
        for (;;) {
          const excess = (await store.client.zcard(key)) - options.maxRecords;
          if (excess <= 0) break;
          const flat = await store.client.zrange(key, 0, Math.min(excess, batchSize) - 1, 'WITHSCORES');
          const entries = entriesFromFlat(flat);
          if (entries.length === 0) break;
          await store.removeEntries(queue, names, entries);
          count += entries.length;
        }
        if (age > 0 || count > 0) trimmed[queue] = { age, count };
        await store.client.zremrangebyscore(
          store.keys.tombstones(queue),
          '-inf',
          `(${now - (options.tombstoneMaxAgeMs ?? 30 * DAY_MS)}`,
        );
      }
      return true;
    },
  );
  return { ran: ran ?? false, trimmed };
}
