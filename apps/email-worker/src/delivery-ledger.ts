import type { RedisClient } from '@jobfleet/service-kit';
import type { TransportKind } from './transport.js';

/** One job, as the ledger knows it: its own BullMQ hash, and when it was created. */
export interface LedgerJob {
  /** The job's hash, `<queue key base>:<job id>` (e.g. `jobfleet:emails:42`); see {@link jobHashKey}. */
  key: string;
  queue: string;
  jobId: string;
  /**
   * When the job was created (ms): the hash's `timestamp` field. A job id can be
   * reused once its job is removed; the creation time tells the two apart.
   */
  createdAt: number;
}

/** What the ledger remembers of a delivered message. */
export interface DeliveryRecord {
  messageId: string;
  transport: TransportKind;
  /** ISO time the server accepted the message (or the outbox wrote it). */
  deliveredAt: string;
  /** The server's final reply, when there was one. */
  response?: string | undefined;
}

/**
 * Remembers which jobs' messages were delivered, so a job that runs again
 * (its worker died between the server's `250` and the job's completion, or
 * it failed after the delivery) completes without sending a second message.
 */
export interface DeliveryLedger {
  /** The delivery of this job's message, if one was recorded. */
  lookup(job: LedgerJob): Promise<DeliveryRecord | undefined>;
  /**
   * Records the delivery; called as soon as the message is accepted. Resolves
   * `false` when the job no longer exists (removed meanwhile): nothing is written.
   */
  record(job: LedgerJob, delivery: DeliveryRecord): Promise<boolean>;
}

/**
 * The field of the job's hash that holds its delivery record. Namespaced, so
 * it cannot meet one of BullMQ's own fields (short names: `ats`, `stc`, …).
 */
export const DELIVERY_FIELD = 'jobfleet:delivery';

/**
 * The key of a BullMQ job's hash: `job.queueQualifiedName` (`<prefix>:<queue>`,
 * or `{<prefix>:<queue>}:<queue>` on a cluster) and the id — the key BullMQ
 * itself reads, removes and keeps in the queue's hash slot.
 */
export function jobHashKey(job: { queueQualifiedName: string; id?: string | undefined }): string {
  if (job.id === undefined) throw new Error('the job has no id');
  return `${job.queueQualifiedName}:${job.id}`;
}

/**
 * Writes the record into the job's hash only while that hash is still the
 * same job: it exists and its `timestamp` is the job's creation time. A job
 * removed meanwhile (or removed and added again under the same custom id)
 * gets nothing, so no stray hash is left behind. The first record stays
 * (HSETNX): two workers that both delivered (see the README) keep the first.
 *
 * KEYS: 1 the job's hash. ARGV: 1 creation time (ms), 2 field, 3 record (JSON).
 * Returns 1 written, 0 a record was there already, -1 the job is gone.
 */
const RECORD_SCRIPT = `
if tonumber(redis.call('HGET', KEYS[1], 'timestamp')) ~= tonumber(ARGV[1]) then return -1 end
return redis.call('HSETNX', KEYS[1], ARGV[2], ARGV[3])
`;

function parseRecord(raw: string): DeliveryRecord | undefined {
  try {
    const value = JSON.parse(raw) as Partial<DeliveryRecord>;
    if (typeof value.messageId !== 'string' || (value.transport !== 'smtp' && value.transport !== 'outbox')) {
      return undefined;
    }
    return {
      messageId: value.messageId,
      transport: value.transport,
      deliveredAt: typeof value.deliveredAt === 'string' ? value.deliveredAt : '',
      response: typeof value.response === 'string' ? value.response : undefined,
    };
  } catch {
    return undefined;
  }
}

export interface RedisDeliveryLedgerOptions {
  /** The worker's own (worker-flavoured) connection: a write waits out a Redis blip instead of failing. */
  connection: RedisClient;
  /**
   * `JOBFLEET_PREFIX`: a lookup that finds no record in the job's hash also
   * reads the key where earlier versions kept it ({@link legacyLedgerKey}),
   * so a job delivered before an upgrade is not sent again by a rerun after
   * it. Those keys expire on their own (8 days after they were written).
   */
  legacyPrefix?: string;
}

/**
 * Where versions before the ledger moved into the job's hash kept a record:
 * `<prefix>:email-ledger:<queue>:<createdAt>:<jobId>`, a string key with an expiry.
 */
export function legacyLedgerKey(
  prefix: string,
  job: Pick<LedgerJob, 'queue' | 'jobId' | 'createdAt'>,
): string {
  return `${prefix}:email-ledger:${job.queue}:${job.createdAt}:${job.jobId}`;
}

/**
 * The delivery ledger in Redis: one field ({@link DELIVERY_FIELD}) of the job's
 * own hash. BullMQ deletes the hash when the job leaves its retention
 * (`removeOnComplete`, `removeOnFail`), by `job.remove()`, `clean` or
 * `obliterate`, so the ledger holds at most one record per retained job and
 * needs no expiry of its own; a retry, a stalled-job recovery or an
 * operator's `job.retry()` leave the field in place, so every rerun of a kept
 * job finds it. On a cluster it shares the job's hash slot.
 */
export function createRedisDeliveryLedger({
  connection,
  legacyPrefix,
}: RedisDeliveryLedgerOptions): DeliveryLedger {
  return {
    async lookup(job) {
      let raw = await connection.hget(job.key, DELIVERY_FIELD);
      // Lookups are made for reruns only (see `JobContext.firstStart`), so the second read is rare.
      if (raw === null && legacyPrefix !== undefined)
        raw = await connection.get(legacyLedgerKey(legacyPrefix, job));
      if (raw === null) return undefined;
      // A record we cannot read still says "delivered" (sending again is the one thing to avoid);
      // its empty messageId tells the caller to rebuild the result itself.
      return parseRecord(raw) ?? { messageId: '', transport: 'smtp', deliveredAt: '' };
    },
    async record(job, delivery) {
      // EVAL, not EVALSHA: the record must land in one command, never after a NOSCRIPT round trip
      // (Redis keeps the compiled script; only its 150 bytes travel again).
      const written = await connection.eval(
        RECORD_SCRIPT,
        1,
        job.key,
        String(job.createdAt),
        DELIVERY_FIELD,
        JSON.stringify(delivery),
      );
      return written !== -1;
    },
  };
}
