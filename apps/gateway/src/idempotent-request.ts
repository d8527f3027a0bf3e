import type { RedisClient } from '@jobfleet/service-kit';
import type { FastifyRequest } from 'fastify';
import type { Principal } from './auth.js';
import { type IdempotencyStore, requestFingerprint, type StoredResponse } from './idempotency.js';
import { usingRedis } from './redis-availability.js';
import { IDEMPOTENCY_KEY_HEADER } from './schemas.js';

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
 */
export async function idempotently<B, S extends number>(options: {
  request: FastifyRequest;
  principal: Principal;
  store: IdempotencyStore;
  redis: RedisClient;
  work: () => Promise<{ status: S; body: B }>;
  asReplay: (body: B) => B;
}): Promise<Answer<B, S>> {
  const { request, principal, store, redis, work, asReplay } = options;
  const key = request.headers[IDEMPOTENCY_KEY_HEADER];
  if (typeof key !== 'string') return work();
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
    // Free the key, so the client's retry can do the work.
    await claim.release();
    throw error;
  }
  const stored: StoredResponse = answer;
  // The job exists now whatever happens to the record: answer with it, and log a failed save.
  await claim.complete(stored).catch((error: unknown) => {
    request.log.warn({ err: error }, 'could not store the Idempotency-Key record; a retry may enqueue again');
  });
  return answer;
}
