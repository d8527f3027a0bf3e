import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

export const REQUEST_ID_HEADER = 'x-request-id';

const ACCEPTABLE = /^[\x20-\x7E]{1,128}$/;

/**
 * The request id: the caller's `X-Request-Id` when it is printable ASCII of
 * at most 128 characters (so it is safe in logs and headers), else a new UUID.
 */
export function requestIdOf(request: IncomingMessage): string {
  const given = request.headers[REQUEST_ID_HEADER];
  if (typeof given === 'string' && ACCEPTABLE.test(given) && given.trim() !== '') return given;
  return randomUUID();
}
