import rateLimit from '@fastify/rate-limit';
import type { RedisClient } from '@jobfleet/service-kit';
import type { onRequestHookHandler } from 'fastify';
import fp from 'fastify-plugin';
import type { RateLimit } from '../api-keys.js';
import { principalOf } from '../auth.js';
import { RateLimitedError, RedisUnavailableError } from '../errors.js';
import { DEFAULT_COUNT_WAIT_MS, LateCountError, leasingStore } from '../rate-limit-store.js';
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
 * Per-key rate limiting with `@fastify/rate-limit`, counted in Redis (a fixed
 * window per key, taken in leases: see {@link leasingStore}), so every gateway
 * replica draws on one budget (they count on the same Redis, `app.redis`).
 * Decorates `app.checkRateLimit`, the `onRequest` hook to put after a route's
 * authorization hook: it needs the principal, and an unauthenticated request
 * is refused before it costs a Redis call. Over budget: 429 with
 * `Retry-After`; the `X-RateLimit-*` headers tell the budget on every answer.
 */
export const rateLimitPlugin = fp<RateLimitOptions>(
  async (app, options) => {
    const { prefix, defaults, maxWaitMs = DEFAULT_COUNT_WAIT_MS } = options;
    const redis: RedisClient = app.redis;
    const budgetOf = (request: Parameters<onRequestHookHandler>[0]) =>
      principalOf(request).rateLimit ?? defaults;
    await app.register(rateLimit, {
      global: false,
      store: leasingStore(redis, `${prefix}:jobfleet:rate-limit:`, maxWaitMs),
      keyGenerator: (request) => principalOf(request).id,
      max: (request) => budgetOf(request).max,
      timeWindow: (request) => budgetOf(request).timeWindowMs,
      // Failures reach the hook below, which decides.
      skipOnError: false,
    });
    const check = app.createRateLimit();
    app.decorate<onRequestHookHandler>('checkRateLimit', async (request, reply) => {
      // Fail fast: the count needs Redis, and so does everything behind it.
      if (redis.status !== 'ready') throw new RedisUnavailableError();
      let result: Awaited<ReturnType<typeof check>>;
      try {
        result = await check(request);
      } catch (error) {
        if (error instanceof LateCountError) {
          // The request's own Redis commands answer for it, bounded by the command timeout.
          request.log.debug({ wait_ms: maxWaitMs }, 'rate limit count late; request let through');
          return;
        }
        // A full Redis still serves reads; the writes behind this answer JOBFLEET_REDIS_FULL themselves.
        if (isRedisUnavailable(error, redis) && !isRedisFull(error)) {
          throw new RedisUnavailableError({ cause: error });
        }
        // Fail open: a broken count must not stop the traffic it meters, but it must be seen.
        request.log.warn({ err: error }, 'rate limit not checked; request let through');
        return;
      }
      if (result.isAllowed) return;
      const resetSeconds = Math.max(1, result.ttlInSeconds);
      reply.header('x-ratelimit-limit', result.max);
      reply.header('x-ratelimit-remaining', result.remaining);
      reply.header('x-ratelimit-reset', resetSeconds);
      if (result.isExceeded) {
        reply.header('retry-after', resetSeconds);
        throw new RateLimitedError(result.key, result.max, result.timeWindow, resetSeconds);
      }
    });
  },
  { name: 'jobfleet-rate-limit', dependencies: ['jobfleet-redis'] },
);
