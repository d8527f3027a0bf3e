import type { ValidationIssue } from '@jobfleet/queue-contracts';
import type { RedriveAudit } from './record.js';

/** The first issues, as one line of text. */
const describeIssues = (issues: readonly ValidationIssue[]) =>
  issues
    .slice(0, 10)
    .map((i) => `${i.path || '/'} ${i.message}`)
    .join('; ');

/** The base of the store's errors; `code` is stable, for the HTTP edge to map. */
export abstract class DeadLetterStoreError extends Error {
  abstract readonly code: string;
}

/** No record has this id (never existed, removed, or trimmed). HTTP: 404. */
export class DeadLetterNotFoundError extends DeadLetterStoreError {
  override readonly name = 'DeadLetterNotFoundError';
  readonly code = 'DEAD_LETTER_NOT_FOUND';
  constructor(readonly id: string) {
    super(`no dead-letter record "${id}"`);
  }
}

/**
 * The record has been redriven already (or a redrive of it is in progress);
 * a record goes back to its queue once. HTTP: 409.
 */
export class DeadLetterAlreadyRedrivenError extends DeadLetterStoreError {
  override readonly name = 'DeadLetterAlreadyRedrivenError';
  readonly code = 'DEAD_LETTER_ALREADY_REDRIVEN';
  constructor(
    readonly id: string,
    /** The earlier redrive: who, when, the job it created. */
    readonly redrive: RedriveAudit | undefined,
  ) {
    super(
      redrive
        ? `dead-letter record "${id}" was redriven by ${redrive.by} at ${redrive.at} as job "${redrive.jobId}"`
        : `dead-letter record "${id}" is being redriven`,
    );
  }
}

/** A replacement payload does not fit the job's contract; nothing was enqueued. HTTP: 400. */
export class DeadLetterPayloadError extends DeadLetterStoreError {
  override readonly name = 'DeadLetterPayloadError';
  readonly code = 'DEAD_LETTER_INVALID_PAYLOAD';
  constructor(
    readonly id: string,
    readonly jobName: string,
    /** JSON pointers into the payload, as the gateway reports other validation failures. */
    readonly issues: ValidationIssue[],
  ) {
    super(`the payload for "${jobName}" does not fit its contract: ${describeIssues(issues)}`);
  }
}

/**
 * No replacement payload was given, and the record's own payload no longer
 * fits the job's contract (the contract changed, or the payload was bad from
 * the start): it can only be redriven with a replacement `data`. Nothing was
 * enqueued. HTTP: 409 (the record's state, not the request, is at fault).
 */
export class DeadLetterStoredPayloadError extends DeadLetterStoreError {
  override readonly name = 'DeadLetterStoredPayloadError';
  readonly code = 'DEAD_LETTER_STORED_PAYLOAD_INVALID';
  constructor(
    readonly id: string,
    readonly jobName: string,
    /** JSON pointers into the stored payload (the record's `data`). */
    readonly issues: ValidationIssue[],
  ) {
    super(
      `the stored payload of dead-letter record "${id}" no longer fits the contract of "${jobName}" (${describeIssues(
        issues,
      )}); redrive it with a replacement payload as \`data\``,
    );
  }
}

/**
 * The record's source queue is not one of the store's contracts (a queue since
 * removed from the catalog), so there is nothing to validate against or send to.
 * HTTP: 409 (the record exists but cannot be redriven).
 */
export class DeadLetterUnknownQueueError extends DeadLetterStoreError {
  override readonly name = 'DeadLetterUnknownQueueError';
  readonly code = 'DEAD_LETTER_UNKNOWN_QUEUE';
  constructor(
    readonly id: string,
    readonly queue: string,
  ) {
    super(`dead-letter record "${id}" comes from queue "${queue}", which has no contract here`);
  }
}

/** A query or request argument is out of range (limit, cursor, since, by). HTTP: 400. */
export class DeadLetterQueryError extends DeadLetterStoreError {
  override readonly name = 'DeadLetterQueryError';
  readonly code = 'DEAD_LETTER_BAD_QUERY';
  constructor(
    /** The argument at fault: `limit`, `cursor`, `since`, `by`, … */
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
  }
}
