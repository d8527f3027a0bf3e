import type { DeadLetter } from '@jobfleet/queue-contracts';

export type { DeadLetter } from '@jobfleet/queue-contracts';

/** Who sent a record back to its queue, when, and the id of the job that created. */
export type RedriveAudit = NonNullable<DeadLetter['redrive']>;

/** A record with its id (the id of its job in the `dead-letters` queue). */
export interface StoredDeadLetter {
  id: string;
  record: DeadLetter;
}

/**
 * The parts of a record id (`<queue>.<jobId>.<failedAt ms>`, see
 * `deadLetterId`): queue names hold no `.`, job ids may.
 */
export function parseDeadLetterId(
  id: string,
): { queue: string; jobId: string; failedAt: number } | undefined {
  const first = id.indexOf('.');
  const last = id.lastIndexOf('.');
  if (first <= 0 || last <= first + 1) return undefined;
  const failedAt = Number(id.slice(last + 1));
  if (!/^\d+$/.test(id.slice(last + 1)) || !Number.isSafeInteger(failedAt)) return undefined;
  return { queue: id.slice(0, first), jobId: id.slice(first + 1, last), failedAt };
}

/** A record's failure time in ms, the score of every index; from the record, else from its id. */
export function failureTime(
  id: string,
  record: Pick<DeadLetter, 'failedAt'> | undefined,
): number | undefined {
  const fromRecord = record ? Date.parse(record.failedAt) : Number.NaN;
  return Number.isFinite(fromRecord) ? fromRecord : parseDeadLetterId(id)?.failedAt;
}

/**
 * The record with `options.attempts` saying how many attempts its job really
 * had. BullMQ stores `attempts: 0` for a job added without an attempts option
 * (its default) and runs it once, so such a record would claim 0 attempts
 * beside `attemptsMade: 1`; it says 1 instead. Other options are kept as they were.
 */
export function withEffectiveAttempts(record: DeadLetter): DeadLetter {
  const { attempts } = record.options;
  if (typeof attempts === 'number' && Number.isInteger(attempts) && attempts >= 1) return record;
  return { ...record, options: { ...record.options, attempts: 1 } };
}
