import {
  COMMON_PROBLEM_KINDS,
  PROBLEM_CONTENT_TYPE,
  PROBLEM_TYPE_BASE,
  type Problem,
  type ProblemKind,
  problemFor,
  RouteNotFoundError,
} from '@jobfleet/service-kit';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

export { PROBLEM_CONTENT_TYPE, PROBLEM_TYPE_BASE };

/** bull-board's UI reads `error.key` (a translation key) and `message` from error bodies. */
export type BullBoardErrorKey =
  | 'ERRORS.FORBIDDEN'
  | 'ERRORS.REDIS_UNAVAILABLE'
  | 'ERRORS.INVALID_REQUEST_BODY';

export interface DashboardProblem {
  status: number;
  slug: string;
  title: string;
  detail: string;
  /** The stable code; defaults to the slug as `JOBFLEET_<SLUG>`. */
  code?: string;
  key?: BullBoardErrorKey;
  /** Values bull-board's message for `key` interpolates, e.g. `{ field: 'data' }`. */
  keyOptions?: Record<string, string>;
  /**
   * The headline bull-board's UI shows, as plain text, where none of its
   * translated messages fits; it takes the place of `key`.
   */
  boardTitle?: string;
}

/** `redis-unavailable` → `JOBFLEET_REDIS_UNAVAILABLE`. */
export const codeOfSlug = (slug: string) => `JOBFLEET_${slug.toUpperCase().replaceAll('-', '_')}`;

/**
 * Sends an RFC 9457 problem. It also carries bull-board's own error members
 * (`error`: a translation key, or plain text; `message`), so the bull-board UI shows the reason when one of
 * its API calls is refused.
 */
export function sendProblem(reply: FastifyReply, problem: DashboardProblem): FastifyReply {
  return reply
    .code(problem.status)
    .type(PROBLEM_CONTENT_TYPE)
    .send({
      type: `${PROBLEM_TYPE_BASE}${problem.slug}`,
      title: problem.title,
      status: problem.status,
      detail: problem.detail,
      code: problem.code ?? codeOfSlug(problem.slug),
      error:
        problem.boardTitle ??
        ({
          key: problem.key ?? 'ERRORS.FORBIDDEN',
          ...(problem.keyOptions ? { options: problem.keyOptions } : {}),
        } as const),
      message: problem.detail,
    });
}

/** By error code: those every service shares (the parser's, Fastify's). */
const KINDS: Record<string, ProblemKind> = { ...COMMON_PROBLEM_KINDS };

/** A problem as the dashboard sends it: with bull-board's `error` and `message` members too. */
const withBoardMembers = (problem: Problem) => ({
  ...problem,
  error: problem.title,
  message: problem.detail,
});

/** The problem of an error; server errors keep their details to themselves (the log has them). */
function errorProblem(error: FastifyError, request: FastifyRequest) {
  const problem = problemFor(error, KINDS);
  if (problem.status >= 500) request.log.error({ err: error }, 'request failed');
  else if (problem.status !== 404) {
    request.log.info({ code: problem.code, status: problem.status }, problem.detail);
  }
  return problem;
}

/**
 * Every error and every unknown route answers with `application/problem+json`
 * and a `code`, as the gateway does; errors Node's HTTP parser raises below
 * the routes are answered the same way by the shared HTTP edges (see
 * `httpEdgeServerOptions`).
 */
export function installProblemHandlers(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    const problem = errorProblem(error, request);
    return reply.code(problem.status).type(PROBLEM_CONTENT_TYPE).send(withBoardMembers(problem));
  });
  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0] ?? request.url;
    const problem = problemFor(new RouteNotFoundError(request.method, path.slice(0, 256)), KINDS);
    return reply.code(404).type(PROBLEM_CONTENT_TYPE).send(withBoardMembers(problem));
  });
}

/**
 * For Fastify's `frameworkErrors` option: errors the router raises before any
 * route or hook runs (a malformed percent-encoding, an over-long path
 * parameter) are problems too.
 */
export function sendFrameworkProblem(
  error: FastifyError,
  request: FastifyRequest,
  reply: FastifyReply,
): void {
  const problem = errorProblem(error, request);
  void reply.code(problem.status).type(PROBLEM_CONTENT_TYPE).send(withBoardMembers(problem));
}

/** bull-board's error body: `{ error: { key } | string, message? }`. */
interface BoardErrorBody {
  error?: { key?: unknown } | string;
  message?: unknown;
}

/**
 * bull-board's own error answers (its handlers' 4xx, its error handler's 500)
 * as problems with a code, keeping the members its UI reads; a 5xx's message
 * is left out, as for any server error. Anything else is returned as is.
 */
export function boardErrorAsProblem(status: number, payload: string): string | undefined {
  let body: BoardErrorBody;
  try {
    body = JSON.parse(payload) as BoardErrorBody;
  } catch {
    return undefined;
  }
  if (body === null || typeof body !== 'object' || body.error === undefined) return undefined;
  if (status === 503) {
    // Redis went away under bull-board's call.
    const detail = 'Redis is unreachable; retry shortly';
    return JSON.stringify({
      type: `${PROBLEM_TYPE_BASE}redis-unavailable`,
      title: 'Redis unavailable',
      status,
      detail,
      code: 'JOBFLEET_REDIS_UNAVAILABLE',
      error: { key: 'ERRORS.REDIS_UNAVAILABLE' },
      message: detail,
    });
  }
  const key = typeof body.error === 'object' && typeof body.error.key === 'string' ? body.error.key : '';
  const name = key.replace(/^ERRORS\./, '') || (status >= 500 ? 'INTERNAL_SERVER_ERROR' : 'BAD_REQUEST');
  const server = status >= 500;
  const slug = server ? 'internal-error' : name.toLowerCase().replaceAll('_', '-');
  const detail = server
    ? 'the server could not handle the request'
    : typeof body.message === 'string'
      ? body.message
      : name.toLowerCase().replaceAll('_', ' ');
  return JSON.stringify({
    type: `${PROBLEM_TYPE_BASE}${slug}`,
    title: server ? 'Internal server error' : 'Request refused',
    status,
    detail,
    code: server ? 'JOBFLEET_INTERNAL' : `JOBFLEET_BOARD_${name}`,
    error: body.error,
    message: detail,
  });
}
