import type { RedisClient } from '@jobfleet/service-kit';
import type { TransportKind } from './transport.js';

/** One job, as the ledger knows it: the id alone is not enough, ids can be reused once a job is removed. */
export interface LedgerJob {
  queue: string;
  jobId: string;
  /** When the job was created (ms); the same on every attempt of one job. */
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
  /** Records the delivery; called as soon as the message is accepted. */
  record(job: LedgerJob, delivery: DeliveryRecord): Promise<void>;
}

export interface RedisDeliveryLedgerOptions {
  /** The worker's own (worker-flavoured) connection: a write waits out a Redis blip instead of failing. */
  connection: RedisClient;
  /** `JOBFLEET_PREFIX`: the ledger lives beside the queues it belongs to. */
  prefix: string;
  /** How long a record is kept (`EMAIL_LEDGER_TTL_MS`). */
  ttlMs: number;
}

/**
 * The key of one job's record: `<prefix>:email-ledger:<queue>:<createdAt>:<jobId>`.
 * Outside the queue's own `<prefix>:<queue>:*` key space, so it can never
 * collide with a BullMQ key; the job id comes last, so any character in it is
 * unambiguous. The creation time keeps a reused job id (a job removed after its
 * retention, then added again with the same custom id) from looking delivered.
 */
export function ledgerKey(prefix: string, job: LedgerJob): string {
  return `${prefix}:email-ledger:${job.queue}:${job.createdAt}:${job.jobId}`;
}

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

/** The delivery ledger in Redis: one string key per delivered job, expiring after `ttlMs`. */
export function createRedisDeliveryLedger({
  connection,
  prefix,
  ttlMs,
}: RedisDeliveryLedgerOptions): DeliveryLedger {
  return {
    async lookup(job) {
      const raw = await connection.get(ledgerKey(prefix, job));
      if (raw === null) return undefined;
      // A record we cannot read still says "delivered" (sending again is the one thing to avoid);
      // its empty messageId tells the caller to rebuild the result itself.
      return parseRecord(raw) ?? { messageId: '', transport: 'smtp', deliveredAt: '' };
    },
    async record(job, delivery) {
      await connection.set(ledgerKey(prefix, job), JSON.stringify(delivery), 'PX', ttlMs);
    },
  };
}
