import type { RedisClient } from '@jobfleet/service-kit';
import type { FastifyReply, FastifyRequest, onRequestHookHandler } from 'fastify';
import fp from 'fastify-plugin';
import type { RateLimit } from '../api-keys.js';
import { principalOf } from '../auth.js';
import { RateLimitedError, RedisUnavailableError } from '../errors.js';
import { type Count, DEFAULT_COUNT_WAIT_MS, LateCountError, leasingStore } from '../rate-limit-store.js';
import { isRedisFull, isRedisUnavailable } from '../redis-availability.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** The per-key rate-limit `onRequest` hook; goes after the route's authorization hook. */
    checkRateLimit: onRequestHookHandler;
  }
}

export interface RateLimitOptions {
  /** `JOBFLEET_PREFIX`. */
  prefix: string;
  /** The budget of a key that sets none. */
  defaults: RateLimit;
  /**
   * How long a request waits for its count (a lease refresh from Redis, well
   * under a millisecond when Redis is healthy) before it is let through
   * uncounted: a slow or frozen Redis must not hold requests back here.
   */
  maxWaitMs?: number;
}

/**
 * Decorates `app.checkRateLimit`: the per-key rate limit, counted on the app's
 * Redis (`app.redis`), so every gateway replica draws on one budget. See
 * {@link rateLimitHook}.
 */
export const rateLimitPlugin = fp<RateLimitOptions>(
  async (app, options) => {
    app.decorate<onRequestHookHandler>('checkRateLimit', rateLimitHook(app.redis, options));
  },
  { name: 'jobfleet-rate-limit', dependencies: ['jobfleet-redis'] },
);

/**
 * The per-key rate-limit hook, counted in Redis (a fixed window per key, taken
 * in leases: see {@link leasingStore}), so every gateway replica draws on one
 * budget. It goes after a route's authorization hook: it needs the principal,
 * and an unauthenticated request is refused before it costs a Redis call.
 * Over budget: 429 with `Retry-After`; the `X-RateLimit-*` headers tell the
 * budget on every answer. A count the local lease covers (nearly every one) is
 * taken synchronously: no promise, no Redis call.
 */
function rateLimitHook(redis: RedisClient, options: RateLimitOptions): onRequestHookHandler {
  const { prefix, defaults, maxWaitMs = DEFAULT_COUNT_WAIT_MS } = options;
  const store = leasingStore(redis, `${prefix}:jobfleet:rate-limit:`, maxWaitMs);

  /** The budget's headers, and a 429 when the count is over it. */
  const verdict = (reply: FastifyReply, key: string, budget: RateLimit, count: Count) => {
    const resetSeconds = Math.max(1, Math.ceil(count.ttl / 1_000));
    reply.header('x-ratelimit-limit', budget.max);
    reply.header('x-ratelimit-remaining', Math.max(0, budget.max - count.current));
    reply.header('x-ratelimit-reset', resetSeconds);
    if (count.current <= budget.max) return undefined;
    reply.header('retry-after', resetSeconds);
    return new RateLimitedError(key, budget.max, budget.timeWindowMs, resetSeconds);
  };

  /** A count that failed: an answer for the request, or `undefined` to let it through. */
  const failure = (request: FastifyRequest, error: unknown) => {
    if (error instanceof LateCountError) {
      // The request's own Redis commands answer for it, bounded by the command timeout.
      request.log.debug({ wait_ms: maxWaitMs }, 'rate limit count late; request let through');
      return undefined;
    }
    // A full Redis still serves reads; the writes behind this answer JOBFLEET_REDIS_FULL themselves.
    if (isRedisUnavailable(error, redis) && !isRedisFull(error)) {
      return new RedisUnavailableError({ cause: error });
    }
    // Fail open: a broken count must not stop the traffic it meters, but it must be seen.
    request.log.warn({ err: error }, 'rate limit not checked; request let through');
    return undefined;
  };

  return (request, reply, done) => {
    // Fail fast: the count needs Redis, and so does everything behind it.
    if (redis.status !== 'ready') {
      done(new RedisUnavailableError());
      return;
    }
    const principal = principalOf(request);
    const budget = principal.rateLimit ?? defaults;
    let counted: Count | Promise<Count>;
    try {
      counted = store.count(principal.id, budget.timeWindowMs, budget.max);
    } catch (error) {
      done(failure(request, error));
      return;
    }
    if (!(counted instanceof Promise)) {
      done(verdict(reply, principal.id, budget, counted));
      return;
    }
    counted.then(
      (count) => done(verdict(reply, principal.id, budget, count)),
      (error: unknown) => done(failure(request, error)),
    );
  };
}
