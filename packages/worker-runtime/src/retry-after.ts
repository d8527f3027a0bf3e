import type { Job } from 'bullmq';

/** The longest `Retry-After` honoured: an endpoint cannot park a job for longer than this. */
export const MAX_RETRY_AFTER_MS = 3_600_000;

/**
 * Milliseconds from `now` that a `Retry-After` value asks to wait: delay
 * seconds or an HTTP date (RFC 9110 §10.2.3), at most {@link MAX_RETRY_AFTER_MS};
 * `undefined` when absent or unreadable.
 */
export function parseRetryAfter(value: string | null | undefined, now = Date.now()): number | undefined {
  const text = value?.trim();
  if (!text) return undefined;
  let ms: number;
  if (/^\d+$/.test(text)) ms = Number(text) * 1_000;
  else {
    // An HTTP date names its weekday and month; Date.parse alone would take "-5" for a year.
    const at = /[A-Za-z]/.test(text) ? Date.parse(text) : Number.NaN;
    if (Number.isNaN(at)) return undefined;
    ms = Math.max(0, at - now);
  }
  return Math.min(ms, MAX_RETRY_AFTER_MS);
}

/** The delay BullMQ's built-in strategies give before attempt `attemptsMade + 1` (no jitter). */
function plannedDelay(job: Job): number {
  const { backoff } = job.opts;
  if (backoff === undefined) return 0;
  if (typeof backoff === 'number') return backoff;
  const delay = backoff.delay ?? 0;
  if (backoff.type === 'exponential') return Math.round(2 ** job.attemptsMade * delay);
  return delay;
}

/**
 * Makes the retry that follows this failed attempt wait at least `delayMs`.
 * BullMQ reads the job's backoff when the processor throws, from this same
 * object, and neither stores it back nor counts the attempt differently: so
 * the attempt still counts toward `attempts`, the runtime still sees a retried
 * (or, after the last attempt, a dead-lettered) job, and only this one delay
 * grows. A `DelayedError` would not count the attempt, and an endpoint that
 * always answers 503 would keep its job forever.
 */
export function retryNoSoonerThan(job: Job, delayMs: number): void {
  if (delayMs <= plannedDelay(job)) return;
  job.opts = { ...job.opts, backoff: { type: 'fixed', delay: delayMs } };
}
