import { createHash } from 'node:crypto';
import type { RedisClient } from '@jobfleet/service-kit';
import type { FastifyRequest } from 'fastify';
import type { Principal } from './auth.js';
import { OutcomeUnknownError } from './errors.js';
import { type IdempotencyStore, requestFingerprint, type StoredResponse } from './idempotency.js';
import { usingRedis } from './redis-availability.js';
import { IDEMPOTENCY_KEY_HEADER } from './schemas/common.js';

/** An answer: the work's own, or an earlier request's replayed with status 200. */
export interface Answer<B, S extends number> {
  status: S | 200;
  body: B;
}

/**
 * Runs `work` at most once per `Idempotency-Key` (when the request has one):
 * the first request does the work and its answer is stored; a retry with the
 * same key and body gets that answer back with status 200, passed through
 * `asReplay` (which marks its jobs `duplicate: true`). Without the header,
 * `work` simply runs, and no Redis call is added.
 *
 * When `work` fails with {@link OutcomeUnknownError} (its write was sent, no
 * reply came), the key stays claimed and is marked for takeover: the retry runs
 * `work` again, which must then find what the first one may have written (the
 * enqueue routes derive their job ids from the key — see {@link idempotentJobId}).
 */
/**
 * The id of the job a request with an `Idempotency-Key` enqueues (`index`: its
 * place in a batch): the same for every retry of the request, so a retry after
 * an unknown outcome finds the job if it was written, and BullMQ never adds a
 * second one with the same id. Neither an integer nor holding a `:`, like any
 * custom job id.
 */
export function idempotentJobId(principalId: string, idempotencyKey: string, index?: number): string {
  const hash = createHash('sha256').update(`${principalId}\n${idempotencyKey}`).digest('base64url');
  return index === undefined ? `ik-${hash}` : `ik-${hash}-${index}`;
}

/** The request's `Idempotency-Key`, if it has one. */
export const idempotencyKeyOf = (request: FastifyRequest): string | undefined => {
  const key = request.headers[IDEMPOTENCY_KEY_HEADER];
  return typeof key === 'string' ? key : undefined;
};

export async function idempotently<B, S extends number>(options: {
  request: FastifyRequest;
  principal: Principal;
  store: IdempotencyStore;
  redis: RedisClient;
  work: () => Promise<{ status: S; body: B }>;
  asReplay: (body: B) => B;
}): Promise<Answer<B, S>> {
  const { request, principal, store, redis, work, asReplay } = options;
  const key = idempotencyKeyOf(request);
  if (key === undefined) return work();
  const fingerprint = requestFingerprint(
    request.method,
    request.routeOptions.url ?? request.url,
    request.body,
  );
  const claim = await usingRedis(redis, () => store.claim(principal.id, key, fingerprint));
  if (claim.kind === 'replay') {
    return { status: 200, body: asReplay(claim.response.body as B) };
  }
  let answer: { status: S; body: B };
  try {
    answer = await work();
  } catch (error) {
    // Neither is awaited: while Redis hangs, the answer must not wait for it.
    if (error instanceof OutcomeUnknownError) {
      // The job may exist: the client's retry takes the key over and finds it (its id is derived from the key).
      void claim.abandon();
    } else {
      // Nothing was written: free the key, so the client's retry can do the work.
      void claim.release();
    }
    throw error;
  }
  const stored: StoredResponse = answer;
  // The job exists now whatever happens to the record: answer with it, and log a failed save.
  await claim.complete(stored).catch((error: unknown) => {
    request.log.warn({ err: error }, 'could not store the Idempotency-Key record; a retry may enqueue again');
  });
  return answer;
}
