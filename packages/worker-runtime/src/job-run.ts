/**
 * What the runtime can tell about a run of a job from BullMQ's counters alone,
 * with no Redis command: `JobContext.firstStart`.
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
