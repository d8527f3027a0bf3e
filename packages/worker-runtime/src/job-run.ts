/**
 * What the runtime can tell about a run of a job from BullMQ's counters and
 * timestamps alone, with no Redis command: `JobContext.firstStart` and the
 * fresh-lock shortcut of `JobContext.ensureOwned()`.
 */

/**
 * Whether this is the job's first start, so no earlier run can have had side
 * effects. BullMQ counts in the job's hash every start (`ats`, on each move to
 * active), every finished attempt (`atm`, on completion and on failure) and
 * every stall (`stc`); a retry, a stalled-job recovery, a requeue at shutdown
 * and `job.retry()` leave them counted. Only `job.retry()` with both
 * `resetAttemptsStarted` and `resetAttemptsMade` makes a job that ran look new
 * again.
 */
export function isFirstStart(job: {
  attemptsStarted: number;
  attemptsMade: number;
  stalledCounter: number;
}): boolean {
  return job.attemptsStarted === 1 && job.attemptsMade === 0 && job.stalledCounter === 0;
}

/**
 * Whether the lock this worker took when it fetched the job (`processedOn`, its
 * own clock, read before the fetch was sent) cannot have expired yet: less than
 * half the lock duration has passed. Another worker can take the job only once
 * the lock has expired, so asking Redis would only confirm it. A `processedOn`
 * in the future (the clock went back) is not trusted.
 */
export function holdsFreshLock(
  processedOn: number | undefined,
  lockDurationMs: number,
  now = Date.now(),
): boolean {
  if (processedOn === undefined) return false;
  const held = now - processedOn;
  return held >= 0 && held < lockDurationMs / 2;
}
