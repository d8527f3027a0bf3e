import createError from '@fastify/error';

/**
 * RFC 9457 problems, as every jobfleet HTTP service sends its errors: the
 * shape, the content type, and the errors raised below the routes (Node's HTTP
 * parser and timers) that every service answers the same way.
 */

export const PROBLEM_CONTENT_TYPE = 'application/problem+json; charset=utf-8';

/** Base of every problem `type` URI jobfleet sends. */
export const PROBLEM_TYPE_BASE = 'https://jobfleet.dev/problems/';

/** A client-facing issue: a JSON pointer and what is wrong there. */
export interface ProblemIssue {
  path: string;
  message: string;
}

/** An RFC 9457 problem document. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  /** The error's stable code, e.g. `JOBFLEET_UNKNOWN_QUEUE`. */
  code: string;
  /** For validation failures: each issue, with a JSON pointer into the request part. */
  errors?: ProblemIssue[];
}

/** How a problem is presented: the last segment of its `type` URI and its `title`. */
export interface ProblemKind {
  slug: string;
  title: string;
}

/** Raised by Node's HTTP parser, below every route (see `http-edges.ts`). */
export const HeadersTooLargeError = createError<'JOBFLEET_HEADERS_TOO_LARGE', 431, [number]>(
  'JOBFLEET_HEADERS_TOO_LARGE',
  'the request line and headers are over %d bytes',
  431,
);

export const MalformedRequestError = createError<'JOBFLEET_MALFORMED_REQUEST', 400, [string]>(
  'JOBFLEET_MALFORMED_REQUEST',
  'the request is not valid HTTP/1.1: %s',
  400,
);

export const RequestTimeoutError = createError<'JOBFLEET_REQUEST_TIMEOUT', 408, []>(
  'JOBFLEET_REQUEST_TIMEOUT',
  'the request was not received in time',
  408,
);

export const MissingHostError = createError<'JOBFLEET_MISSING_HOST', 400, []>(
  'JOBFLEET_MISSING_HOST',
  'an HTTP/1.1 request needs a Host header',
  400,
);

export const ExpectationFailedError = createError<'JOBFLEET_EXPECTATION_FAILED', 417, [string]>(
  'JOBFLEET_EXPECTATION_FAILED',
  'the expectation "%s" is not supported; only "100-continue" is',
  417,
);

/** The kinds of the errors every service can raise before its routes: the parser's and Fastify's. */
export const COMMON_PROBLEM_KINDS: Readonly<Record<string, ProblemKind>> = {
  JOBFLEET_HEADERS_TOO_LARGE: { slug: 'headers-too-large', title: 'Request headers too large' },
  JOBFLEET_MALFORMED_REQUEST: { slug: 'malformed-request', title: 'Malformed request' },
  JOBFLEET_MISSING_HOST: { slug: 'malformed-request', title: 'Malformed request' },
  JOBFLEET_REQUEST_TIMEOUT: { slug: 'request-timeout', title: 'Request timeout' },
  JOBFLEET_EXPECTATION_FAILED: { slug: 'expectation-failed', title: 'Expectation failed' },
  JOBFLEET_ROUTE_NOT_FOUND: { slug: 'route-not-found', title: 'Route not found' },
  FST_ERR_NOT_FOUND: { slug: 'route-not-found', title: 'Route not found' },
  FST_ERR_VALIDATION: { slug: 'validation-failed', title: 'Validation failed' },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { slug: 'unsupported-media-type', title: 'Unsupported media type' },
  FST_ERR_CTP_BODY_TOO_LARGE: { slug: 'body-too-large', title: 'Request body too large' },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { slug: 'malformed-body', title: 'Malformed request body' },
  FST_ERR_CTP_EMPTY_JSON_BODY: { slug: 'malformed-body', title: 'Malformed request body' },
  FST_ERR_CTP_INVALID_JSON_BODY: { slug: 'malformed-body', title: 'Malformed request body' },
  FST_ERR_BAD_URL: { slug: 'bad-request', title: 'Bad request' },
  FST_ERR_MAX_PARAM_LENGTH: { slug: 'uri-too-long', title: 'URI too long' },
};

export const RouteNotFoundError = createError<'JOBFLEET_ROUTE_NOT_FOUND', 404, [string, string]>(
  'JOBFLEET_ROUTE_NOT_FOUND',
  'no route for %s %s',
  404,
);

const MALFORMED_BODY: ProblemKind = { slug: 'malformed-body', title: 'Malformed request body' };
const INTERNAL: ProblemKind = { slug: 'internal-error', title: 'Internal server error' };
const GENERIC_CLIENT: ProblemKind = { slug: 'bad-request', title: 'Bad request' };
const UNAVAILABLE: ProblemKind = { slug: 'service-unavailable', title: 'Service unavailable' };

/** An error as a problem is made of it: a code, a status, a message. */
export interface ProblemSource {
  code?: string;
  statusCode?: number;
  message: string;
}

/** The problem kind of an error: by its code in `kinds`, else by its status. */
export function problemKindFor(error: ProblemSource, kinds: Readonly<Record<string, ProblemKind>>) {
  const known = error.code ? kinds[error.code] : undefined;
  if (known) return known;
  // secure-json-parse's prototype-poisoning errors and other body-parser errors carry no code of ours.
  if (error.statusCode === 400) return MALFORMED_BODY;
  if (error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500) {
    return GENERIC_CLIENT;
  }
  if (error.statusCode === 503) return UNAVAILABLE;
  return INTERNAL;
}

/**
 * The problem of an error without validation details: known codes keep their
 * message as `detail`; an internal error keeps it to itself (the log has it).
 * `kinds` adds a service's own codes to {@link COMMON_PROBLEM_KINDS}.
 */
export function problemFor(
  error: ProblemSource,
  kinds: Readonly<Record<string, ProblemKind>> = COMMON_PROBLEM_KINDS,
): Problem {
  const kind = problemKindFor(error, kinds);
  const status =
    error.statusCode && error.statusCode >= 400 && error.statusCode < 600 ? error.statusCode : 500;
  const base = { type: `${PROBLEM_TYPE_BASE}${kind.slug}`, title: kind.title, status };
  if (kind === INTERNAL) {
    return { ...base, detail: 'the server could not handle the request', code: 'JOBFLEET_INTERNAL' };
  }
  return { ...base, detail: error.message, code: error.code ?? 'JOBFLEET_BAD_REQUEST' };
}
