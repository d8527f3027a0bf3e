import type { FastifyReply } from 'fastify';

export const PROBLEM_CONTENT_TYPE = 'application/problem+json; charset=utf-8';

/** Base of every problem `type` URI jobfleet sends. */
export const PROBLEM_TYPE_BASE = 'https://jobfleet.dev/problems/';

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
  key?: BullBoardErrorKey;
  /** Values bull-board's message for `key` interpolates, e.g. `{ field: 'data' }`. */
  keyOptions?: Record<string, string>;
  /**
   * The headline bull-board's UI shows, as plain text, where none of its
   * translated messages fits; it takes the place of `key`.
   */
  boardTitle?: string;
}

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
      error:
        problem.boardTitle ??
        ({
          key: problem.key ?? 'ERRORS.FORBIDDEN',
          ...(problem.keyOptions ? { options: problem.keyOptions } : {}),
        } as const),
      message: problem.detail,
    });
}
