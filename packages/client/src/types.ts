// Type-only: the contracts give names and payload types; the built client imports nothing from them.
import type { catalog, JobData, JobName, JobResult } from '@jobfleet/queue-contracts';

type Catalog = typeof catalog;

/** A catalog queue producers may post to. */
export type QueueName = Extract<keyof Catalog, string>;

/** The job names of queue `Q`. */
export type JobNameOf<Q extends QueueName> = JobName<Catalog[Q]>;

/** The payload of job `N` of queue `Q`, as its contract's schema says. */
export type JobDataOf<Q extends QueueName, N extends JobNameOf<Q>> = JobData<Catalog[Q], N>;

/** The result of job `N` of queue `Q`, as its contract's schema says. */
export type JobResultOf<Q extends QueueName, N extends JobNameOf<Q>> = JobResult<Catalog[Q], N>;

/** The job options a producer may set; the gateway refuses any other. */
export interface EnqueueOptions {
  /** Milliseconds before the job may run (up to 30 days). */
  delay?: number;
  /** 0 (default) runs first; among prioritised jobs, lower runs sooner. */
  priority?: number;
  /** Tries in total, overriding the queue's default (1 to 25). */
  attempts?: number;
  backoff?: { type: 'fixed' | 'exponential'; delay: number; jitter?: number };
  /** A custom job id: printable ASCII, no `:`, not an integer. */
  jobId?: string;
  /**
   * Where jobfleet POSTs a signed {@link WebhookEvent} when the job ends for
   * good (completed, dead-lettered or cancelled): an http(s) URL on a public
   * address. The API key needs a `webhookSecret`.
   */
  callback?: { url: string };
}

/**
 * The body of a completion webhook (`type`, `timestamp`, `data: { queue, id,
 * name, result | failedReason, finishedAt }`); verify its signature (Standard
 * Webhooks) before trusting it.
 */
export type { WebhookEvent } from '@jobfleet/queue-contracts';

/** Options of one enqueue call. */
export interface EnqueueCallOptions extends EnqueueOptions {
  /**
   * Makes the request safe to retry; the client makes one per call when none
   * is given, and sends the same key on every retry of that call.
   */
  idempotencyKey?: string;
}

/** One job of a batch, typed by its name. */
export type BatchJob<Q extends QueueName> = {
  [N in JobNameOf<Q>]: { name: N; data: JobDataOf<Q, N>; options?: EnqueueOptions };
}[JobNameOf<Q>];

/** What the gateway answers to an enqueue. */
export interface EnqueueAccepted<Q extends QueueName = QueueName> {
  id: string;
  queue: Q;
  name: string;
  /** true when no new job was made: a replay of the same Idempotency-Key, or an existing custom jobId. */
  duplicate: boolean;
}

export interface BatchAccepted {
  jobs: { id: string; name: string; duplicate: boolean }[];
}

/** A job's state: BullMQ's, and `cancelled` for a job a cancel request ended. */
export type JobState =
  | 'waiting'
  | 'prioritized'
  | 'delayed'
  | 'active'
  | 'completed'
  | 'failed'
  | 'cancelled'
  | 'waiting-children';

/** States in which a job is done: completed, failed for good, or cancelled. */
export const FINISHED_STATES: ReadonlySet<JobState> = new Set(['completed', 'failed', 'cancelled']);

interface JobStatusFields {
  id: string;
  state: JobState;
  attemptsMade: number;
  progress: unknown;
  options: { attempts?: number; backoff?: unknown; delay?: number; priority?: number };
  origin: { client?: string; tenant: string };
  failedReason?: string;
  createdAt: string;
  startedAt?: string;
  finishedAt?: string;
}

/** A job as `GET /v1/queues/{queue}/jobs/{id}` shows it, typed by its name. */
export type JobStatus<Q extends QueueName = QueueName> = {
  [N in JobNameOf<Q>]: JobStatusFields & {
    queue: Q;
    name: N;
    data: JobDataOf<Q, N>;
    /** The result, once completed. */
    result?: JobResultOf<Q, N>;
  };
}[JobNameOf<Q>];

/** What a cancel did: removed a job that had not started, or told the worker to abort a running one. */
export type CancelOutcome = { state: 'removed' } | { state: 'cancelling' };
