/** One validation issue: a JSON pointer into the request part that failed, and why. */
export interface ProblemIssue {
  path: string;
  message: string;
}

/** Codes the client itself gives, besides the gateway's `JOBFLEET_*` codes. */
export const NETWORK_ERROR = 'JOBFLEET_NETWORK_ERROR';
export const WAIT_TIMEOUT = 'JOBFLEET_WAIT_TIMEOUT';
export const INVALID_RESPONSE = 'JOBFLEET_INVALID_RESPONSE';

/**
 * A failed call: the gateway's problem document (RFC 9457) when it answered,
 * else a client-side code with `status` 0 (network error, timeout).
 */
export class JobfleetError extends Error {
  override readonly name = 'JobfleetError';
  /** The HTTP status; 0 when no answer came. */
  readonly status: number;
  /** A stable code, e.g. `JOBFLEET_UNKNOWN_QUEUE`, or one of the client's own. */
  readonly code: string;
  /** For validation failures: each issue with its JSON pointer. */
  readonly errors: readonly ProblemIssue[];
  /** The problem type URI, when the gateway sent one. */
  readonly type: string | undefined;
  /** How long the gateway asked to wait before a retry (`Retry-After`), in ms. */
  readonly retryAfterMs: number | undefined;

  constructor(
    message: string,
    fields: {
      status: number;
      code: string;
      errors?: readonly ProblemIssue[];
      type?: string;
      retryAfterMs?: number;
      cause?: unknown;
    },
  ) {
    super(message, fields.cause === undefined ? undefined : { cause: fields.cause });
    this.status = fields.status;
    this.code = fields.code;
    this.errors = fields.errors ?? [];
    this.type = fields.type;
    this.retryAfterMs = fields.retryAfterMs;
  }
}
