/** BullMQ's limiter: at most `max` jobs start per `duration` milliseconds, across every worker of the queue. */
export interface RateLimiter {
  max: number;
  duration: number;
}

/**
 * `EMAIL_RATE_LIMIT` (messages per second) as BullMQ's limiter. Whole rates
 * allow that many per second; a fraction allows one message per `1000 / rate`
 * ms (0.5 → one every 2 s, 2.5 → one every 400 ms), so no rate is rounded up.
 */
export function rateLimiter(perSecond: number): RateLimiter {
  if (!(perSecond > 0) || !Number.isFinite(perSecond)) throw new RangeError('the rate must be positive');
  if (Number.isInteger(perSecond)) return { max: perSecond, duration: 1_000 };
  return { max: 1, duration: Math.max(1, Math.round(1_000 / perSecond)) };
}
