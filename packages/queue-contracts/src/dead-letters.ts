import { type Static, Type } from 'typebox';
import { defineQueue } from './contract.js';

/** Longest failure reason or stack frame kept in a record; longer ones are cut. */
export const DEAD_LETTER_TEXT_LIMIT = 8_192;
/** Stack traces kept per record (one per attempt, newest last). */
export const DEAD_LETTER_STACK_LIMIT = 10;

const Text = Type.String({ maxLength: DEAD_LETTER_TEXT_LIMIT });
const IsoTime = Type.String({ format: 'date-time', maxLength: 40 });

/** Everything an operator needs to understand and redrive one finally failed job. */
export const DeadLetterRecord = Type.Object(
  {
    queue: Type.String({ minLength: 1, maxLength: 128 }),
    jobId: Type.String({ minLength: 1, maxLength: 512 }),
    jobName: Type.String({ minLength: 1, maxLength: 128 }),
    data: Type.Unknown(),
    options: Type.Record(Type.String(), Type.Unknown()),
    failedReason: Text,
    stacktrace: Type.Array(Text, { maxItems: DEAD_LETTER_STACK_LIMIT }),
    attemptsMade: Type.Integer({ minimum: 0 }),
    enqueuedAt: IsoTime,
    failedAt: IsoTime,
    /** Set once the record has been sent back to its queue: who did it, when, and the new job's id. */
    redrive: Type.Optional(
      Type.Object(
        {
          by: Type.String({ minLength: 1, maxLength: 128 }),
          at: IsoTime,
          jobId: Type.String({ minLength: 1, maxLength: 512 }),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);

export const deadLetters = defineQueue({
  name: 'dead-letters',
  team: 'platform',
  description: 'One record per finally failed job of any contract queue.',
  jobs: {
    'dead-letter': {
      description: 'A finally failed job, with its payload and failure.',
      data: DeadLetterRecord,
      result: Type.Unknown(),
    },
  },
  defaultJobOptions: {
    attempts: 3,
    backoff: { type: 'exponential', delay: 1_000 },
    removeOnComplete: { age: 14 * 24 * 3_600, count: 100_000 },
    removeOnFail: { age: 14 * 24 * 3_600, count: 100_000 },
  },
});

/** The job name every dead-letter record carries. */
export const DEAD_LETTER_JOB = 'dead-letter';

/**
 * The dead-letter record's job id: one per final failure. A duplicated or
 * replayed failure event yields the same id, and BullMQ ignores an add whose id
 * exists, so each failure is recorded once. Queue names hold no `.`, so the id
 * reads back unambiguously.
 */
export function deadLetterId(queue: string, jobId: string, failedAt: number): string {
  return `${queue}.${jobId}.${failedAt}`;
}

/** One dead-letter record. */
export type DeadLetter = Static<typeof DeadLetterRecord>;

/** What a record is made from: the fields of a finally failed BullMQ job. */
export interface FailedJob {
  queueName: string;
  id?: string | undefined;
  name: string;
  data: unknown;
  opts: object;
  failedReason?: string | undefined;
  stacktrace?: string[] | null | undefined;
  attemptsMade: number;
  timestamp: number;
  finishedOn?: number | undefined;
}

const clip = (text: string) =>
  text.length > DEAD_LETTER_TEXT_LIMIT ? `${text.slice(0, DEAD_LETTER_TEXT_LIMIT - 1)}…` : text;

/**
 * The record of a finally failed job. The live path (the worker) and the
 * reconciliation pass (the DLQ processor) both build records with this, so a
 * failure yields the same record whoever writes it.
 */
export function toDeadLetter(job: FailedJob, error?: Error): DeadLetter {
  return {
    queue: job.queueName,
    jobId: String(job.id),
    jobName: job.name,
    data: job.data,
    options: { ...job.opts },
    failedReason: clip(job.failedReason || error?.message || 'unknown failure'),
    stacktrace: (job.stacktrace ?? []).filter(Boolean).slice(-DEAD_LETTER_STACK_LIMIT).map(clip),
    attemptsMade: job.attemptsMade,
    enqueuedAt: new Date(job.timestamp).toISOString(),
    failedAt: new Date(job.finishedOn ?? Date.now()).toISOString(),
  };
}
