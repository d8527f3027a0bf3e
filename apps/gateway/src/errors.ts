import createError from '@fastify/error';
import { COMMON_PROBLEM_KINDS, PROBLEM_TYPE_BASE, type ProblemKind } from '@jobfleet/service-kit';

/**
 * The gateway's named errors. Each has a stable `code`, the HTTP status it
 * answers with, and a problem type (see {@link problemTypeOf}); the message is
 * the problem's `detail`, so it never carries secrets or internals.
 */

export const UnknownQueueError = createError<'JOBFLEET_UNKNOWN_QUEUE', 404, [string, string]>(
  'JOBFLEET_UNKNOWN_QUEUE',
  'there is no queue named "%s"; known queues: %s',
  404,
);

export const JobNotFoundError = createError<'JOBFLEET_JOB_NOT_FOUND', 404, [string, string]>(
  'JOBFLEET_JOB_NOT_FOUND',
  'queue "%s" has no job with id "%s" (it may never have existed or may have been removed)',
  404,
);

export const UnauthorizedError = createError<'JOBFLEET_UNAUTHORIZED', 401, [string]>(
  'JOBFLEET_UNAUTHORIZED',
  '%s',
  401,
);

export const ForbiddenError = createError<'JOBFLEET_FORBIDDEN', 403, [string, string]>(
  'JOBFLEET_FORBIDDEN',
  'API key "%s" lacks the scope "%s"',
  403,
);

export const InvalidUtf8Error = createError<'JOBFLEET_INVALID_UTF8', 400, []>(
  'JOBFLEET_INVALID_UTF8',
  'the request body is not valid UTF-8',
  400,
);

export const InvalidUnicodeError = createError<'JOBFLEET_INVALID_UNICODE', 400, []>(
  'JOBFLEET_INVALID_UNICODE',
  'the request body holds a lone UTF-16 surrogate escape (such as "\\ud800"), which is no text',
  400,
);

export const UnsupportedCharsetError = createError<'JOBFLEET_UNSUPPORTED_CHARSET', 415, [string]>(
  'JOBFLEET_UNSUPPORTED_CHARSET',
  'charset "%s" is not supported; send UTF-8 JSON',
  415,
);

export const RedisUnavailableError = createError<
  'JOBFLEET_REDIS_UNAVAILABLE',
  503,
  [options?: { cause: unknown }]
>('JOBFLEET_REDIS_UNAVAILABLE', 'the job store (Redis) is unavailable; retry shortly', 503);

/**
 * A write was sent to Redis and no reply came in time (or the connection broke
 * before one did): it may or may not have happened. The `Idempotency-Key` (if
 * any) stays claimed, so a retry with it converges on exactly one job.
 */
export const OutcomeUnknownError = createError<
  'JOBFLEET_OUTCOME_UNKNOWN',
  504,
  [options?: { cause: unknown }]
>(
  'JOBFLEET_OUTCOME_UNKNOWN',
  'the job store (Redis) did not confirm the write in time: it may or may not have been done; retry with the same Idempotency-Key, which enqueues at most once',
  504,
);

/** Redis is at `maxmemory` and refuses writes (`OOM`); nothing was written. */
export const RedisFullError = createError<'JOBFLEET_REDIS_FULL', 503, [options?: { cause: unknown }]>(
  'JOBFLEET_REDIS_FULL',
  'the job store (Redis) is full and refuses writes; nothing was written; retry later',
  503,
);

/**
 * `REDIS_MIN_REPLICAS_ACK`: WAIT did not confirm the write on enough replicas in time. The job was written to the
 * master and may survive or not (a failover can drop it): retry with the same Idempotency-Key.
 */
export const ReplicationUnconfirmedError = createError<
  'JOBFLEET_REPLICATION_UNCONFIRMED',
  503,
  [number, number]
>(
  'JOBFLEET_REPLICATION_UNCONFIRMED',
  'Redis could not confirm within the time allowed that the write reached %d replica(s) (%d ms); the job may have been written: retry with the same Idempotency-Key, which converges on one job',
  503,
);

export const RateLimitedError = createError<'JOBFLEET_RATE_LIMITED', 429, [string, number, number, number]>(
  'JOBFLEET_RATE_LIMITED',
  'API key "%s" is over its rate limit of %d requests per %d ms; retry in %d s',
  429,
);

export const OverloadedError = createError<'JOBFLEET_OVERLOADED', 503, []>(
  'JOBFLEET_OVERLOADED',
  'the gateway is overloaded; retry shortly',
  503,
);

export const IdempotencyKeyReusedError = createError<'JOBFLEET_IDEMPOTENCY_KEY_REUSED', 422, []>(
  'JOBFLEET_IDEMPOTENCY_KEY_REUSED',
  'this Idempotency-Key was already used with a different request (another body, queue or route); use a new key for a new request',
  422,
);

export const IdempotencyInProgressError = createError<'JOBFLEET_IDEMPOTENCY_IN_PROGRESS', 409, []>(
  'JOBFLEET_IDEMPOTENCY_IN_PROGRESS',
  'a request with this Idempotency-Key is still being processed; retry shortly',
  409,
);

export const JobIdTakenError = createError<'JOBFLEET_JOB_ID_TAKEN', 409, [string, string]>(
  'JOBFLEET_JOB_ID_TAKEN',
  'queue "%s" already has a job with id "%s" that another tenant posted; choose another id',
  409,
);

export const JobFinishedError = createError<'JOBFLEET_JOB_FINISHED', 409, [string, string, string]>(
  'JOBFLEET_JOB_FINISHED',
  'job "%s" of queue "%s" has already finished (%s); there is nothing to cancel',
  409,
);

export const NotJobOwnerError = createError<'JOBFLEET_NOT_JOB_OWNER', 403, [string, string]>(
  'JOBFLEET_NOT_JOB_OWNER',
  'API key "%s" may cancel only the jobs it posted itself; cancelling any job needs the scope "%s"',
  403,
);

export const TenantBoundKeyError = createError<'JOBFLEET_TENANT_BOUND_KEY', 403, [string, string, string]>(
  'JOBFLEET_TENANT_BOUND_KEY',
  'API key "%s" is bound to tenant "%s" and may not %s, which affects every tenant',
  403,
);

export const ScheduleNotFoundError = createError<'JOBFLEET_SCHEDULE_NOT_FOUND', 404, [string, string]>(
  'JOBFLEET_SCHEDULE_NOT_FOUND',
  'queue "%s" has no schedule with id "%s"',
  404,
);

export const ScheduleIdTakenError = createError<'JOBFLEET_SCHEDULE_ID_TAKEN', 409, [string, string]>(
  'JOBFLEET_SCHEDULE_ID_TAKEN',
  'queue "%s" already has a schedule with id "%s" that another tenant owns; choose another id',
  409,
);

export const DeadLetterNotFoundError = createError<'JOBFLEET_DEAD_LETTER_NOT_FOUND', 404, [string]>(
  'JOBFLEET_DEAD_LETTER_NOT_FOUND',
  'there is no dead-letter record with id "%s" (it may have been removed or trimmed)',
  404,
);

export const DeadLetterRedrivenError = createError<'JOBFLEET_DEAD_LETTER_REDRIVEN', 409, [string]>(
  'JOBFLEET_DEAD_LETTER_REDRIVEN',
  '%s; a record is sent back to its queue once',
  409,
);

export const DeadLetterNotRedrivableError = createError<'JOBFLEET_DEAD_LETTER_NOT_REDRIVABLE', 409, [string]>(
  'JOBFLEET_DEAD_LETTER_NOT_REDRIVABLE',
  '%s',
  409,
);

export const DeadLetterStoredPayloadError = createError<
  'JOBFLEET_DEAD_LETTER_STORED_PAYLOAD_INVALID',
  409,
  [string]
>('JOBFLEET_DEAD_LETTER_STORED_PAYLOAD_INVALID', '%s', 409);

export const ReportNotFoundError = createError<'JOBFLEET_REPORT_NOT_FOUND', 404, [string, string]>(
  'JOBFLEET_REPORT_NOT_FOUND',
  'there is no report for job "%s"%s',
  404,
);

export const ReportTenantMismatchError = createError<
  'JOBFLEET_REPORT_TENANT_MISMATCH',
  422,
  [string, string, string, string]
>(
  'JOBFLEET_REPORT_TENANT_MISMATCH',
  '%s: API key "%s" is bound to tenant "%s" and may not ask for a report of tenant "%s"',
  422,
);

/** A callback URL that is not http(s) or names a private, loopback or link-local address. */
export const CallbackUrlRefusedError = createError<'JOBFLEET_CALLBACK_URL_REFUSED', 400, [string, string]>(
  'JOBFLEET_CALLBACK_URL_REFUSED',
  '%s: %s',
  400,
);

/** A callback asked for by a key that has no `webhookSecret` to sign it with. */
export const CallbackUnsignableError = createError<'JOBFLEET_CALLBACK_UNSIGNABLE', 400, [string, string]>(
  'JOBFLEET_CALLBACK_UNSIGNABLE',
  '%s: API key "%s" has no webhookSecret, so its completion webhooks could not be signed; add one (whsec_…) to its entry in the API key list',
  400,
);

// Raised by Node's HTTP parser, below every route: shared by every HTTP service.
export {
  ExpectationFailedError,
  HeadersTooLargeError,
  MalformedRequestError,
  MissingHostError,
  PROBLEM_TYPE_BASE,
  RequestTimeoutError,
  RouteNotFoundError,
} from '@jobfleet/service-kit';

/** A request that passed the schemas but breaks a rule they cannot express (a bad cron, say). */
export const RequestRuleError = createError<'FST_ERR_VALIDATION', 400, []>(
  'FST_ERR_VALIDATION',
  'invalid request',
  400,
);

/**
 * A 400 with `errors[]`, shaped like a schema failure so it is reported as one:
 * each issue's `path` is a JSON pointer into `part` of the request.
 */
export function invalidRequest(
  issues: readonly { path: string; message: string }[],
  part: 'body' | 'params' | 'querystring' | 'headers' = 'body',
) {
  return Object.assign(new RequestRuleError(), {
    validationContext: part,
    validation: issues.map((issue) => ({
      keyword: 'rule',
      instancePath: issue.path,
      schemaPath: '#',
      params: {},
      message: issue.message,
    })),
  });
}

/** An error whose problem lists `issues` as `errors[]` although it is no validation failure (no 400). */
export function withIssues<E extends Error>(
  error: E,
  issues: readonly { path: string; message: string }[],
): E & { issues: readonly { path: string; message: string }[] } {
  return Object.assign(error, { issues });
}

/** By error code: ours, and those every service shares (the parser's, Fastify's). */
const KINDS: Record<string, ProblemKind> = {
  ...COMMON_PROBLEM_KINDS,
  JOBFLEET_UNKNOWN_QUEUE: { slug: 'unknown-queue', title: 'Unknown queue' },
  JOBFLEET_JOB_NOT_FOUND: { slug: 'job-not-found', title: 'Job not found' },
  JOBFLEET_UNAUTHORIZED: { slug: 'unauthorized', title: 'Authentication required' },
  JOBFLEET_FORBIDDEN: { slug: 'forbidden', title: 'Missing scope' },
  JOBFLEET_INVALID_UTF8: { slug: 'malformed-body', title: 'Malformed request body' },
  JOBFLEET_INVALID_UNICODE: { slug: 'malformed-body', title: 'Malformed request body' },
  JOBFLEET_UNSUPPORTED_CHARSET: { slug: 'unsupported-media-type', title: 'Unsupported media type' },
  JOBFLEET_REDIS_UNAVAILABLE: { slug: 'service-unavailable', title: 'Service unavailable' },
  JOBFLEET_OUTCOME_UNKNOWN: { slug: 'outcome-unknown', title: 'Outcome unknown' },
  JOBFLEET_REDIS_FULL: { slug: 'redis-full', title: 'Job store full' },
  JOBFLEET_OVERLOADED: { slug: 'overloaded', title: 'Service overloaded' },
  JOBFLEET_REPLICATION_UNCONFIRMED: { slug: 'replication-unconfirmed', title: 'Replication unconfirmed' },
  JOBFLEET_RATE_LIMITED: { slug: 'rate-limited', title: 'Too many requests' },
  JOBFLEET_IDEMPOTENCY_KEY_REUSED: { slug: 'idempotency-key-reused', title: 'Idempotency-Key reused' },
  JOBFLEET_IDEMPOTENCY_IN_PROGRESS: {
    slug: 'idempotency-in-progress',
    title: 'Request with this Idempotency-Key in progress',
  },
  JOBFLEET_JOB_ID_TAKEN: { slug: 'job-id-taken', title: 'Job id taken' },
  JOBFLEET_JOB_FINISHED: { slug: 'job-finished', title: 'Job already finished' },
  JOBFLEET_NOT_JOB_OWNER: { slug: 'forbidden', title: 'Missing scope' },
  JOBFLEET_TENANT_BOUND_KEY: { slug: 'tenant-bound-key', title: 'Not allowed for a tenant key' },
  JOBFLEET_SCHEDULE_NOT_FOUND: { slug: 'schedule-not-found', title: 'Schedule not found' },
  JOBFLEET_SCHEDULE_ID_TAKEN: { slug: 'schedule-id-taken', title: 'Schedule id taken' },
  JOBFLEET_DEAD_LETTER_NOT_FOUND: { slug: 'dead-letter-not-found', title: 'Dead-letter record not found' },
  JOBFLEET_DEAD_LETTER_REDRIVEN: {
    slug: 'dead-letter-redriven',
    title: 'Dead-letter record already redriven',
  },
  JOBFLEET_DEAD_LETTER_NOT_REDRIVABLE: {
    slug: 'dead-letter-not-redrivable',
    title: 'Dead-letter record cannot be redriven',
  },
  JOBFLEET_DEAD_LETTER_STORED_PAYLOAD_INVALID: {
    slug: 'dead-letter-stored-payload-invalid',
    title: "Dead-letter record's payload no longer fits its contract",
  },
  JOBFLEET_REPORT_NOT_FOUND: { slug: 'report-not-found', title: 'Report not found' },
  JOBFLEET_REPORT_TENANT_MISMATCH: { slug: 'report-tenant-mismatch', title: 'Report of another tenant' },
  JOBFLEET_CALLBACK_URL_REFUSED: { slug: 'callback-url-refused', title: 'Callback URL refused' },
  JOBFLEET_CALLBACK_UNSIGNABLE: { slug: 'callback-unsignable', title: 'Callback cannot be signed' },
};

const VALIDATION: ProblemKind = { slug: 'validation-failed', title: 'Validation failed' };
const MALFORMED_BODY: ProblemKind = { slug: 'malformed-body', title: 'Malformed request body' };
const INTERNAL: ProblemKind = { slug: 'internal-error', title: 'Internal server error' };
const GENERIC_CLIENT: ProblemKind = { slug: 'bad-request', title: 'Bad request' };

/**
 * `Retry-After` (seconds) of the answers that ask to be retried: an outage or
 * shed load is short (a restart, a failover), and so is a replica that lags; an unknown outcome is settled
 * once Redis answers again; a full Redis needs an operator or the workers to
 * drain it, which takes longer.
 */
const RETRY_AFTER_SECONDS: Record<string, number> = {
  JOBFLEET_REDIS_UNAVAILABLE: 1,
  JOBFLEET_OVERLOADED: 1,
  JOBFLEET_OUTCOME_UNKNOWN: 2,
  JOBFLEET_REPLICATION_UNCONFIRMED: 1,
  JOBFLEET_REDIS_FULL: 30,
};

/** The `Retry-After` (seconds) an answer with this code carries, if any. */
export const retryAfterOf = (code: string | undefined): number | undefined =>
  code === undefined ? undefined : RETRY_AFTER_SECONDS[code];

/** The problem kind of an error; a validation failure has its own. */
export function problemKindOf(error: { code?: string; validation?: unknown; statusCode?: number }) {
  if (error.validation) return VALIDATION;
  const known = error.code ? KINDS[error.code] : undefined;
  if (known) return known;
  // secure-json-parse's prototype-poisoning errors and other body-parser errors carry no code of ours.
  if (error.statusCode === 400) return MALFORMED_BODY;
  if (error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500) {
    return GENERIC_CLIENT;
  }
  return INTERNAL;
}

/** The `type` URI of a problem kind. */
export function problemTypeOf(kind: ProblemKind): string {
  return `${PROBLEM_TYPE_BASE}${kind.slug}`;
}
