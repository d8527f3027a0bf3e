import {
  DEAD_LETTER_JOB,
  DEAD_LETTER_STACK_LIMIT,
  DEAD_LETTER_TEXT_LIMIT,
  type DeadLetterRecord,
  deadLetterId,
  deadLetters,
} from '@jobfleet/queue-contracts';
import { type Job, Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Static } from 'typebox';

export type DeadLetter = Static<typeof DeadLetterRecord>;

const clip = (text: string) =>
  text.length > DEAD_LETTER_TEXT_LIMIT ? `${text.slice(0, DEAD_LETTER_TEXT_LIMIT - 1)}…` : text;

/** The dead-letter record of a finally failed job. */
export function toDeadLetter(job: Job, error: Error | undefined): DeadLetter {
  const failedAt = job.finishedOn ?? Date.now();
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
    failedAt: new Date(failedAt).toISOString(),
  };
}

/** Writes dead-letter records to the `dead-letters` queue, one per final failure. */
export class DeadLetterSink {
  readonly queue: Queue<DeadLetter>;

  constructor(connection: Redis, prefix: string) {
    this.queue = new Queue<DeadLetter>(deadLetters.name, { connection, prefix });
  }

  /**
   * Records the failure; the record's id is derived from the failure itself, so
   * recording the same failure again adds nothing.
   */
  async record(job: Job, error: Error | undefined): Promise<string> {
    const record = toDeadLetter(job, error);
    const id = deadLetterId(record.queue, record.jobId, Date.parse(record.failedAt));
    await this.queue.add(DEAD_LETTER_JOB, record, { ...deadLetters.defaultJobOptions, jobId: id });
    return id;
  }

  close(): Promise<void> {
    return this.queue.close();
  }
}
