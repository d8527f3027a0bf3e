import type { JobData, JobName, JobResult, QueueContract } from '@jobfleet/queue-contracts';
import type { Job } from 'bullmq';
import type { Logger } from 'pino';

/** What a handler gets besides its payload. */
export interface JobContext {
  /** The BullMQ job: id, name, attempts, `updateProgress()`. */
  job: Job;
  /** A child logger carrying `job_id`, `queue` and `job_name`. */
  log: Logger;
  /** Aborted when the job is cancelled; pass it to fetch, timers and child work. */
  signal: AbortSignal;
  /**
   * Throws the signal's reason once the job's signal is aborted, as
   * `signal.throwIfAborted()` does, without making the signal: for a handler
   * that checks for cancellation at points instead of passing the signal on
   * (creating an `AbortSignal` takes microseconds on Node 20, and a run makes
   * its signal only when it is read).
   */
  throwIfAborted(): void;
  /** 1 on the first try, 2 on the first retry, … */
  attempt: number;
  /**
   * True when no earlier run of this job ever started, so nothing of an earlier
   * run can have had side effects: a handler may skip looking for them (the
   * e-mail worker's delivery-ledger lookup). BullMQ's counters of starts,
   * finished attempts and stalls are all at their first-run values; a retry, a
   * stall recovery, a requeue at shutdown and `job.retry()` leave a count
   * behind. Caveat: `job.retry()` with both `resetAttemptsStarted` and
   * `resetAttemptsMade` makes a job that ran look like a first start again.
   */
  firstStart: boolean;
  /**
   * Renews the job's lock, and throws `JobLockLostError` when this worker no
   * longer holds it. Call it right before a side effect that must not happen
   * twice (a message handed to a mail server): a worker cut off from Redis
   * longer than its lock must not act on a job another worker now runs.
   *
   * While less than half the lock duration has passed since this worker
   * fetched the job (`processedOn`), it resolves without asking Redis: the lock
   * set by the fetch cannot have expired, so no other worker can have taken the
   * job over. The trade-off: a lock taken away in that window otherwise (an
   * operator removing the job, a failover to a replica that missed the fetch)
   * is noticed only by the next check past the window or at completion.
   */
  ensureOwned(): Promise<void>;
}

/** One job type's handler: its typed payload in, its typed result out. */
export type Handler<Data, Result> = (data: Data, context: JobContext) => Promise<Result>;

/**
 * A handler for every job name of the contract, and only those: a missing or
 * misspelt name, or a wrong payload or result type, is a compile error.
 */
export type HandlerMap<Q extends QueueContract> = {
  [N in JobName<Q>]: Handler<JobData<Q, N>, JobResult<Q, N>>;
};
