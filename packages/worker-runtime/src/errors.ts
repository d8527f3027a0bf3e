import { CANCELLED_REASON, type ValidationIssue } from '@jobfleet/queue-contracts';
import { UnrecoverableError } from 'bullmq';

/**
 * Throw from a handler when retrying cannot help (a permanent refusal, bad
 * input): the job fails at once and is dead-lettered.
 */
export class PermanentJobError extends UnrecoverableError {
  override name = 'PermanentJobError';
}

/** The payload breaks the queue's contract; never retried. */
export class InvalidPayloadError extends PermanentJobError {
  override name = 'InvalidPayloadError';
  constructor(
    readonly jobName: string,
    readonly issues: ValidationIssue[],
  ) {
    super(
      `invalid payload for "${jobName}": ${issues
        .slice(0, 10)
        .map((i) => `${i.path || '/'} ${i.message}`)
        .join('; ')}`,
    );
  }
}

/** The job's name is not in the queue's contract; never retried. */
export class UnknownJobError extends PermanentJobError {
  override name = 'UnknownJobError';
  constructor(queue: string, jobName: string) {
    super(`queue "${queue}" has no job named "${jobName}"`);
  }
}

/** The job was cancelled on request: it ends at once, without a retry or a dead-letter record. */
export class JobCancelledError extends UnrecoverableError {
  override name = 'JobCancelledError';
  constructor() {
    super(CANCELLED_REASON);
  }
}

/**
 * Throw from a handler (or a client it calls) when the process is shutting
 * down before the job's side effect has begun, e.g. a message not yet handed
 * to the mail server: the job goes back to wait at once, without using an
 * attempt. Outside a shutdown it is an ordinary, retried failure.
 */
export class ShuttingDownError extends Error {
  override name = 'ShuttingDownError';
  constructor(message = 'the worker is shutting down; the job goes back to wait') {
    super(message);
  }
}

/**
 * Thrown by `JobContext.ensureOwned()` when this worker no longer holds the
 * job's lock: it was cut off from Redis for longer than the lock lasts, and
 * stalled-job recovery has handed the job to another worker (or is about to).
 * The runtime then leaves the job alone (no failure, no attempt): its new
 * owner runs it, and this one must not cause its side effect too.
 */
export class JobLockLostError extends Error {
  override name = 'JobLockLostError';
  constructor(jobId: string | undefined) {
    super(`the lock of job ${jobId ?? '(no id)'} was lost: another worker runs it; this one stops`);
  }
}
