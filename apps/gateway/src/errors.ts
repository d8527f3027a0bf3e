import createError from '@fastify/error';
import { COMMON_PROBLEM_KINDS, PROBLEM_TYPE_BASE, type ProblemKind } from '@jobfleet/service-kit';

/** What the gateway answers for one error code. */
interface ErrorRow {
  /** The HTTP status. */
  status: number;
  /** The problem `type` is `PROBLEM_TYPE_BASE` + slug; several codes may share a type. */
  slug: string;
  /** The problem `title`: the same for every answer of the type. */
  title: string;
  /** The problem `detail`, with `%s`/`%d` for the error's arguments; never secrets or internals. */
  detail: string;
  /**
   * `Retry-After` of the answers that ask to be retried: an outage or shed load is short (a restart, a
   * failover), and so is a replica that lags; an unknown outcome is settled once Redis answers again;
   * a full Redis needs an operator or the workers to drain it, which takes longer.
   */
  retryAfterSeconds?: number;
}

/**
 * The gateway's errors, one row per stable `code`: status, problem type and
 * title, detail, `Retry-After`. The error classes below and the problem
 * answers (see `problem.ts`) read this table.
 */
export const GATEWAY_ERRORS = {
  JOBFLEET_UNKNOWN_QUEUE: {
    status: 404,
    slug: 'unknown-queue',
    title: 'Unknown queue',
    detail: 'there is no queue named "%s"; known queues: %s',
  },
  JOBFLEET_JOB_NOT_FOUND: {
    status: 404,
    slug: 'job-not-found',
    title: 'Job not found',
    detail: 'queue "%s" has no job with id "%s" (it may never have existed or may have been removed)',
  },
  JOBFLEET_UNAUTHORIZED: {
    status: 401,
    slug: 'unauthorized',
    title: 'Authentication required',
    detail: '%s',
  },
  JOBFLEET_FORBIDDEN: {
    status: 403,
    slug: 'forbidden',
    title: 'Missing scope',
    detail: 'API key "%s" lacks the scope "%s"',
  },
  JOBFLEET_INVALID_UTF8: {
    status: 400,
    slug: 'malformed-body',
    title: 'Malformed request body',
    detail: 'the request body is not valid UTF-8',
  },
  JOBFLEET_INVALID_UNICODE: {
    status: 400,
    slug: 'malformed-body',
    title: 'Malformed request body',
    detail: 'the request body holds a lone UTF-16 surrogate escape (such as "\\ud800"), which is no text',
  },
  JOBFLEET_UNSUPPORTED_CHARSET: {
    status: 415,
    slug: 'unsupported-media-type',
    title: 'Unsupported media type',
    detail: 'charset "%s" is not supported; send UTF-8 JSON',
  },
  JOBFLEET_REDIS_UNAVAILABLE: {
    status: 503,
    slug: 'service-unavailable',
    title: 'Service unavailable',
    detail: 'the job store (Redis) is unavailable; retry shortly',
    retryAfterSeconds: 1,
  },
  /** A write was sent to Redis and no reply came in time (or the connection broke before one did): it may or may not have happened. The `Idempotency-Key` (if any) stays claimed, so a retry with it converges on exactly one job. */
  JOBFLEET_OUTCOME_UNKNOWN: {
    status: 504,
    slug: 'outcome-unknown',
    title: 'Outcome unknown',
    detail:
      'the job store (Redis) did not confirm the write in time: it may or may not have been done; retry with the same Idempotency-Key, which enqueues at most once',
    retryAfterSeconds: 2,
  },
  /** Redis is at `maxmemory` and refuses writes (`OOM`); nothing was written. */
  JOBFLEET_REDIS_FULL: {
    status: 503,
    slug: 'redis-full',
    title: 'Job store full',
    detail: 'the job store (Redis) is full and refuses writes; nothing was written; retry later',
    retryAfterSeconds: 30,
  },
  /** `REDIS_MIN_REPLICAS_ACK`: WAIT did not confirm the write on enough replicas in time. The job was written to the master and may survive or not (a failover can drop it): retry with the same Idempotency-Key. */
  JOBFLEET_REPLICATION_UNCONFIRMED: {
    status: 503,
    slug: 'replication-unconfirmed',
    title: 'Replication unconfirmed',
    detail:
      'Redis could not confirm within the time allowed that the write reached %d replica(s) (%d ms); the job may have been written: retry with the same Idempotency-Key, which converges on one job',
    retryAfterSeconds: 1,
  },
  JOBFLEET_RATE_LIMITED: {
    status: 429,
    slug: 'rate-limited',
    title: 'Too many requests',
    detail: 'API key "%s" is over its rate limit of %d requests per %d ms; retry in %d s',
  },
  JOBFLEET_OVERLOADED: {
    status: 503,
    slug: 'overloaded',
    title: 'Service overloaded',
    detail: 'the gateway is overloaded; retry shortly',
    retryAfterSeconds: 1,
  },
  JOBFLEET_IDEMPOTENCY_KEY_REUSED: {
    status: 422,
    slug: 'idempotency-key-reused',
    title: 'Idempotency-Key reused',
    detail:
      'this Idempotency-Key was already used with a different request (another body, queue or route); use a new key for a new request',
  },
  JOBFLEET_IDEMPOTENCY_IN_PROGRESS: {
    status: 409,
    slug: 'idempotency-in-progress',
    title: 'Request with this Idempotency-Key in progress',
    detail: 'a request with this Idempotency-Key is still being processed; retry shortly',
  },
  JOBFLEET_JOB_ID_TAKEN: {
    status: 409,
    slug: 'job-id-taken',
    title: 'Job id taken',
    detail: 'queue "%s" already has a job with id "%s" that another tenant posted; choose another id',
  },
  JOBFLEET_JOB_FINISHED: {
    status: 409,
    slug: 'job-finished',
    title: 'Job already finished',
    detail: 'job "%s" of queue "%s" has already finished (%s); there is nothing to cancel',
  },
  JOBFLEET_NOT_JOB_OWNER: {
    status: 403,
    slug: 'forbidden',
    title: 'Missing scope',
    detail: 'API key "%s" may cancel only the jobs it posted itself; cancelling any job needs the scope "%s"',
  },
  JOBFLEET_TENANT_BOUND_KEY: {
    status: 403,
    slug: 'tenant-bound-key',
    title: 'Not allowed for a tenant key',
    detail: 'API key "%s" is bound to tenant "%s" and may not %s, which affects every tenant',
  },
  JOBFLEET_SCHEDULE_NOT_FOUND: {
    status: 404,
    slug: 'schedule-not-found',
    title: 'Schedule not found',
    detail: 'queue "%s" has no schedule with id "%s"',
  },
  JOBFLEET_SCHEDULE_ID_TAKEN: {
    status: 409,
    slug: 'schedule-id-taken',
    title: 'Schedule id taken',
    detail: 'queue "%s" already has a schedule with id "%s" that another tenant owns; choose another id',
  },
  JOBFLEET_DEAD_LETTER_NOT_FOUND: {
    status: 404,
    slug: 'dead-letter-not-found',
    title: 'Dead-letter record not found',
    detail: 'there is no dead-letter record with id "%s" (it may have been removed or trimmed)',
  },
  JOBFLEET_DEAD_LETTER_REDRIVEN: {
    status: 409,
    slug: 'dead-letter-redriven',
    title: 'Dead-letter record already redriven',
    detail: '%s; a record is sent back to its queue once',
  },
  JOBFLEET_DEAD_LETTER_NOT_REDRIVABLE: {
    status: 409,
    slug: 'dead-letter-not-redrivable',
    title: 'Dead-letter record cannot be redriven',
    detail: '%s',
  },
  JOBFLEET_DEAD_LETTER_STORED_PAYLOAD_INVALID: {
    status: 409,
    slug: 'dead-letter-stored-payload-invalid',
    title: "Dead-letter record's payload no longer fits its contract",
    detail: '%s',
  },
  JOBFLEET_REPORT_NOT_FOUND: {
    status: 404,
    slug: 'report-not-found',
    title: 'Report not found',
    detail: 'there is no report for job "%s"%s',
  },
  JOBFLEET_REPORT_TENANT_MISMATCH: {
    status: 422,
    slug: 'report-tenant-mismatch',
    title: 'Report of another tenant',
    detail: '%s: API key "%s" is bound to tenant "%s" and may not ask for a report of tenant "%s"',
  },
  /** A callback URL that is not http(s) or names a private, loopback or link-local address. */
  JOBFLEET_CALLBACK_URL_REFUSED: {
    status: 400,
    slug: 'callback-url-refused',
    title: 'Callback URL refused',
    detail: '%s: %s',
  },
  /** A callback asked for by a key that has no `webhookSecret` to sign it with. */
  JOBFLEET_CALLBACK_UNSIGNABLE: {
    status: 400,
    slug: 'callback-unsignable',
    title: 'Callback cannot be signed',
    detail:
      '%s: API key "%s" has no webhookSecret, so its completion webhooks could not be signed; add one (whsec_…) to its entry in the API key list',
  },
} as const satisfies Record<string, ErrorRow>;

export type GatewayErrorCode = keyof typeof GATEWAY_ERRORS;

/** The error class of a row: `new XError(...args)` fills the row's detail with `args`. */
function defineError<Args extends unknown[]>(code: GatewayErrorCode) {
  const row: ErrorRow = GATEWAY_ERRORS[code];
  return createError<GatewayErrorCode, number, Args>(code, row.detail, row.status);
}

export const UnknownQueueError = defineError<[string, string]>('JOBFLEET_UNKNOWN_QUEUE');
export const JobNotFoundError = defineError<[string, string]>('JOBFLEET_JOB_NOT_FOUND');
export const UnauthorizedError = defineError<[string]>('JOBFLEET_UNAUTHORIZED');
export const ForbiddenError = defineError<[string, string]>('JOBFLEET_FORBIDDEN');
export const InvalidUtf8Error = defineError<[]>('JOBFLEET_INVALID_UTF8');
export const InvalidUnicodeError = defineError<[]>('JOBFLEET_INVALID_UNICODE');
export const UnsupportedCharsetError = defineError<[string]>('JOBFLEET_UNSUPPORTED_CHARSET');
export const RedisUnavailableError = defineError<[options?: { cause: unknown }]>(
  'JOBFLEET_REDIS_UNAVAILABLE',
);
export const OutcomeUnknownError = defineError<[options?: { cause: unknown }]>('JOBFLEET_OUTCOME_UNKNOWN');
export const RedisFullError = defineError<[options?: { cause: unknown }]>('JOBFLEET_REDIS_FULL');
export const ReplicationUnconfirmedError = defineError<[number, number]>('JOBFLEET_REPLICATION_UNCONFIRMED');
export const RateLimitedError = defineError<[string, number, number, number]>('JOBFLEET_RATE_LIMITED');
export const OverloadedError = defineError<[]>('JOBFLEET_OVERLOADED');
export const IdempotencyKeyReusedError = defineError<[]>('JOBFLEET_IDEMPOTENCY_KEY_REUSED');
export const IdempotencyInProgressError = defineError<[]>('JOBFLEET_IDEMPOTENCY_IN_PROGRESS');
export const JobIdTakenError = defineError<[string, string]>('JOBFLEET_JOB_ID_TAKEN');
export const JobFinishedError = defineError<[string, string, string]>('JOBFLEET_JOB_FINISHED');
export const NotJobOwnerError = defineError<[string, string]>('JOBFLEET_NOT_JOB_OWNER');
export const TenantBoundKeyError = defineError<[string, string, string]>('JOBFLEET_TENANT_BOUND_KEY');
export const ScheduleNotFoundError = defineError<[string, string]>('JOBFLEET_SCHEDULE_NOT_FOUND');
export const ScheduleIdTakenError = defineError<[string, string]>('JOBFLEET_SCHEDULE_ID_TAKEN');
export const DeadLetterNotFoundError = defineError<[string]>('JOBFLEET_DEAD_LETTER_NOT_FOUND');
export const DeadLetterRedrivenError = defineError<[string]>('JOBFLEET_DEAD_LETTER_REDRIVEN');
export const DeadLetterNotRedrivableError = defineError<[string]>('JOBFLEET_DEAD_LETTER_NOT_REDRIVABLE');
export const DeadLetterStoredPayloadError = defineError<[string]>(
  'JOBFLEET_DEAD_LETTER_STORED_PAYLOAD_INVALID',
);
export const ReportNotFoundError = defineError<[string, string]>('JOBFLEET_REPORT_NOT_FOUND');
export const ReportTenantMismatchError = defineError<[string, string, string, string]>(
  'JOBFLEET_REPORT_TENANT_MISMATCH',
);
export const CallbackUrlRefusedError = defineError<[string, string]>('JOBFLEET_CALLBACK_URL_REFUSED');
export const CallbackUnsignableError = defineError<[string, string]>('JOBFLEET_CALLBACK_UNSIGNABLE');

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
const KINDS: Readonly<Record<string, ProblemKind>> = {
  ...COMMON_PROBLEM_KINDS,
  ...Object.fromEntries(
    Object.entries(GATEWAY_ERRORS).map(([code, { slug, title }]) => [code, { slug, title }]),
  ),
};

const RETRY_AFTER_SECONDS = new Map<string, number>(
  Object.entries(GATEWAY_ERRORS).flatMap(([code, row]: [string, ErrorRow]) =>
    row.retryAfterSeconds === undefined ? [] : [[code, row.retryAfterSeconds] as const],
  ),
);

const VALIDATION: ProblemKind = { slug: 'validation-failed', title: 'Validation failed' };
const MALFORMED_BODY: ProblemKind = { slug: 'malformed-body', title: 'Malformed request body' };
const INTERNAL: ProblemKind = { slug: 'internal-error', title: 'Internal server error' };
const GENERIC_CLIENT: ProblemKind = { slug: 'bad-request', title: 'Bad request' };

/** The `Retry-After` (seconds) an answer with this code carries, if any. */
export const retryAfterOf = (code: string | undefined): number | undefined =>
  code === undefined ? undefined : RETRY_AFTER_SECONDS.get(code);

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
