import createError from '@fastify/error';

/**
 * The gateway's named errors. Each has a stable `code`, the HTTP status it
 * answers with, and a problem type (see {@link problemTypeOf}); the message is
 * the problem's `detail`, so it never carries secrets or internals.
 */

export const RouteNotFoundError = createError<'JOBFLEET_ROUTE_NOT_FOUND', 404, [string, string]>(
  'JOBFLEET_ROUTE_NOT_FOUND',
  'no route for %s %s',
  404,
);

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

/** How a problem is presented: the last segment of its `type` URI and its `title`. */
interface ProblemKind {
  slug: string;
  title: string;
}

/** Base of every problem `type` URI the gateway sends. */
export const PROBLEM_TYPE_BASE = 'https://jobfleet.dev/problems/';

/** By error code: ours and the Fastify errors a client can cause. */
const KINDS: Record<string, ProblemKind> = {
  JOBFLEET_ROUTE_NOT_FOUND: { slug: 'route-not-found', title: 'Route not found' },
  FST_ERR_NOT_FOUND: { slug: 'route-not-found', title: 'Route not found' },
  JOBFLEET_UNKNOWN_QUEUE: { slug: 'unknown-queue', title: 'Unknown queue' },
  JOBFLEET_JOB_NOT_FOUND: { slug: 'job-not-found', title: 'Job not found' },
  JOBFLEET_UNAUTHORIZED: { slug: 'unauthorized', title: 'Authentication required' },
  JOBFLEET_FORBIDDEN: { slug: 'forbidden', title: 'Missing scope' },
  JOBFLEET_INVALID_UTF8: { slug: 'malformed-body', title: 'Malformed request body' },
  JOBFLEET_UNSUPPORTED_CHARSET: { slug: 'unsupported-media-type', title: 'Unsupported media type' },
  JOBFLEET_REDIS_UNAVAILABLE: { slug: 'service-unavailable', title: 'Service unavailable' },
  FST_ERR_VALIDATION: { slug: 'validation-failed', title: 'Validation failed' },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { slug: 'unsupported-media-type', title: 'Unsupported media type' },
  FST_ERR_CTP_BODY_TOO_LARGE: { slug: 'body-too-large', title: 'Request body too large' },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { slug: 'malformed-body', title: 'Malformed request body' },
  FST_ERR_CTP_EMPTY_JSON_BODY: { slug: 'malformed-body', title: 'Malformed request body' },
  FST_ERR_CTP_INVALID_JSON_BODY: { slug: 'malformed-body', title: 'Malformed request body' },
  FST_ERR_BAD_URL: { slug: 'bad-request', title: 'Bad request' },
  FST_ERR_MAX_PARAM_LENGTH: { slug: 'uri-too-long', title: 'URI too long' },
};

const VALIDATION: ProblemKind = { slug: 'validation-failed', title: 'Validation failed' };
const MALFORMED_BODY: ProblemKind = { slug: 'malformed-body', title: 'Malformed request body' };
const INTERNAL: ProblemKind = { slug: 'internal-error', title: 'Internal server error' };
const GENERIC_CLIENT: ProblemKind = { slug: 'bad-request', title: 'Bad request' };

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
