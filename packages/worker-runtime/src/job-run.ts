/**
 * A run of a job: the context its handler gets ({@link JobRun}), and what the
 * runtime can tell about the run from BullMQ's counters and timestamps alone,
 * with no Redis command: `JobContext.firstStart` and the fresh-lock shortcut of
 * `JobContext.ensureOwned()`.
 */
import type { Job } from 'bullmq';
import type { Logger } from 'pino';
import { JobLockLostError } from './errors.js';
import type { JobContext } from './handlers.js';

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

/** What every run of one runtime shares. */
export interface JobRunScope {
  readonly logger: Logger;
  readonly queue: string;
  /** The worker's lock duration, read when a handler checks that it still owns its job. */
  lockDuration(): number;
}

/**
 * One attempt of a job in this process: the handler's {@link JobContext}, and
 * the handles the runtime needs to end it early (a cancel request, shutdown).
 *
 * Its logger and its signal are made when a handler first reads them: a child
 * logger per job costs more than many handlers do, and an `AbortSignal` takes
 * several microseconds to create on Node 20 (BullMQ would make one per job for
 * a processor that takes one), which handlers that never look at it would pay.
 */
export class JobRun implements JobContext {
  readonly attempt: number;
  readonly firstStart: boolean;
  /** Ends the attempt now, whatever its handler still does; set by the runtime while it waits. */
  end: (error: Error) => void = () => {};
  /** Aborted at the shutdown deadline: whatever its handler throws puts the job back to wait. */
  abortedForShutdown = false;
  /** The handler's promise, once it was called. */
  handler: Promise<unknown> | undefined;
  /** The lock token of this worker's fetch; the handler does not see it. */
  readonly #token: string | undefined;
  #controller: AbortController | undefined;
  #log: Logger | undefined;

  constructor(
    readonly job: Job,
    token: string | undefined,
    private readonly scope: JobRunScope,
  ) {
    this.#token = token;
    this.attempt = job.attemptsMade + 1;
    this.firstStart = isFirstStart(job);
  }

  get log(): Logger {
    this.#log ??= this.scope.logger.child({
      job_id: this.job.id,
      queue: this.scope.queue,
      job_name: this.job.name,
    });
    return this.#log;
  }

  get signal(): AbortSignal {
    this.#controller ??= new AbortController();
    return this.#controller.signal;
  }

  /** Aborts the signal; a handler that has not read it yet gets it aborted. */
  abort(reason: unknown): void {
    this.#controller ??= new AbortController();
    this.#controller.abort(reason);
  }

  // Functions of their own, not methods: handlers take them out of the context (`const { ensureOwned } = context`).
  get throwIfAborted(): () => void {
    // No controller yet means no abort yet: `abort` makes one.
    return () => this.#controller?.signal.throwIfAborted();
  }

  get ensureOwned(): () => Promise<void> {
    return () => this.#ensureOwned();
  }

  async #ensureOwned(): Promise<void> {
    const { job } = this;
    const token = this.#token;
    if (token === undefined) return;
    const lockDuration = this.scope.lockDuration();
    // The lock set by this fetch cannot have expired yet; BullMQ's own renewal extends it in time.
    if (holdsFreshLock(job.processedOn, lockDuration)) return;
    // 0 when the lock is gone or another worker's token holds it.
    const extended = await job.extendLock(token, lockDuration);
    if (extended !== 1) throw new JobLockLostError(job.id);
  }
}
