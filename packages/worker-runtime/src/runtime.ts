import { DeadLetterStore } from '@jobfleet/dead-letter-store';
import { findJob, type QueueContract, tenantOf, toDeadLetter, validate } from '@jobfleet/queue-contracts';
import { queuePrefix, type RedisClient } from '@jobfleet/service-kit';
import { type Job, MetricsTime, type Telemetry, Worker, type WorkerOptions } from 'bullmq';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { CancelListener } from './cancel-listener.js';
import { InvalidPayloadError, JobCancelledError, UnknownJobError } from './errors.js';
import type { HandlerMap, JobContext } from './handlers.js';
import { type Outcome, workerMetrics } from './metrics.js';
import { OUTCOMES, UsageLedger } from './usage-ledger.js';

/** Every worker records BullMQ's per-minute completed/failed counts for a week; the dashboard reads them. */
export const BULLMQ_METRICS = { maxDataPoints: MetricsTime.ONE_WEEK } as const;

export interface WorkerRuntimeOptions<Q extends QueueContract> {
  contract: Q;
  handlers: HandlerMap<Q>;
  /** A worker-flavoured connection (`maxRetriesPerRequest: null`); the caller closes it. */
  connection: RedisClient;
  prefix: string;
  logger: Logger;
  registry: Registry;
  concurrency?: number;
  /**
   * Write a dead-letter record for each final failure (default true). The DLQ
   * processor, which consumes `dead-letters`, turns this off: its own failures
   * must not feed the queue it reads.
   */
  deadLetterFailures?: boolean;
  /** Count attempts in the per-tenant usage ledger (default true). */
  recordUsage?: boolean;
  /** Days the per-tenant usage ledger keeps each day; default 40. */
  usageRetentionDays?: number;
  /** How often active jobs' cancel markers are re-checked (for missed cancel messages); default 2 s. */
  cancelSweepMs?: number;
  /**
   * BullMQ's telemetry (a `Tracing`'s `telemetry`): each attempt then runs in a
   * `process <queue>` span, a child of the span that added the job. Leave it
   * unset when tracing is off, so that BullMQ skips tracing entirely.
   */
  telemetry?: Telemetry | undefined;
  /** Passed through to BullMQ's `Worker` (lock duration, stalled checks, limiter, …). */
  workerOptions?: Partial<
    Pick<WorkerOptions, 'lockDuration' | 'stalledInterval' | 'maxStalledCount' | 'limiter' | 'drainDelay'>
  >;
}

export interface WorkerRuntime {
  readonly worker: Worker;
  /**
   * Stops fetching and waits for in-flight jobs, at most `timeoutMs`; jobs still
   * running then are left to BullMQ's stalled-job recovery (they run again
   * elsewhere). Resolves `true` when every job finished in time.
   */
  close(timeoutMs?: number): Promise<boolean>;
}

/** Turns a contract and a handler map into a running BullMQ worker. */
export function createWorkerRuntime<Q extends QueueContract>(
  options: WorkerRuntimeOptions<Q>,
): WorkerRuntime {
  const { contract, connection, prefix, logger, registry, concurrency = 10 } = options;
  const { deadLetterFailures = true, recordUsage = true } = options;
  const handlers = options.handlers as unknown as Record<
    string,
    (data: unknown, context: JobContext) => Promise<unknown>
  >;
  const queue = contract.name;
  const metrics = workerMetrics(registry);
  // With telemetry, a record is added inside the failed attempt's span (BullMQ emits `failed` there).
  const deadLetters = deadLetterFailures
    ? new DeadLetterStore({ connection, prefix, telemetry: options.telemetry })
    : undefined;
  const attemptSeconds = new WeakMap<Job, number>();
  const pendingRecords = new Set<Promise<unknown>>();
  /** The jobs this process runs now, each with the function that ends it as cancelled. */
  const activeJobs = new Map<string, (error: JobCancelledError) => void>();
  // Label values stay a closed set even when a job was added with a name the contract lacks.
  const label = (name: string) => (findJob(contract, name) ? name : 'unknown');
  const active = metrics.active.labels({ queue });
  active.set(0);
  // prom-client hashes label objects on every call; bind each label set once instead (the hot path).
  const bound = new Map<
    string,
    { processed: { inc(value?: number): void }; duration: { observe(v: number): void } }
  >();
  const boundFor = (jobName: string, outcome: Outcome) => {
    const key = `${jobName}\u0000${outcome}`;
    let entry = bound.get(key);
    if (!entry) {
      const labels = { queue, job_name: jobName, outcome };
      entry = { processed: metrics.processed.labels(labels), duration: metrics.duration.labels(labels) };
      bound.set(key, entry);
    }
    return entry;
  };
  const waitFor = new Map<string, { observe(v: number): void }>();
  const observeWait = (jobName: string, seconds: number) => {
    let child = waitFor.get(jobName);
    if (!child) {
      child = metrics.wait.labels({ queue, job_name: jobName });
      waitFor.set(jobName, child);
    }
    child.observe(seconds);
  };

  // Every series exists from the start at 0, so rate() and increase() see a process's first event too.
  metrics.stalled.inc({ queue }, 0);
  for (const jobName of Object.keys(contract.jobs)) {
    metrics.wait.zero({ queue, job_name: jobName });
    for (const outcome of OUTCOMES) {
      boundFor(jobName, outcome).processed.inc(0);
      metrics.duration.zero({ queue, job_name: jobName, outcome });
    }
  }

  const processor = async (job: Job, _token?: string, signal?: AbortSignal): Promise<unknown> => {
    const started = performance.now();
    active.inc();
    try {
      const definition = findJob(contract, job.name);
      if (job.attemptsStarted <= 1 && job.processedOn) {
        const readyAt = job.timestamp + (job.opts.delay ?? 0);
        observeWait(definition ? job.name : 'unknown', Math.max(0, job.processedOn - readyAt) / 1000);
      }
      const handler = handlers[job.name];
      if (!definition || !handler) throw new UnknownJobError(queue, job.name);
      const check = validate(definition.data, job.data);
      if (!check.ok) throw new InvalidPayloadError(job.name, check.issues);
      let log: Logger | undefined;
      const jobSignal = signal ?? new AbortController().signal;
      const running = handler(job.data, {
        job,
        // Created on first use: a child logger per job costs more than many handlers do.
        get log() {
          log ??= logger.child({ job_id: job.id, queue, job_name: job.name });
          return log;
        },
        signal: jobSignal,
        attempt: job.attemptsMade + 1,
      });
      if (!job.id) return await running;
      const id = job.id;
      // A cancelled job ends now, whether or not its handler honours the signal. The cancel
      // listener calls `reject` directly: an abort listener per job would cost more than the rest.
      return await new Promise<unknown>((resolve, reject) => {
        activeJobs.set(id, reject);
        running.then(resolve, reject);
      });
    } finally {
      if (job.id) activeJobs.delete(job.id);
      attemptSeconds.set(job, (performance.now() - started) / 1000);
      active.dec();
    }
  };

  const worker = new Worker(queue, processor, {
    connection,
    prefix: queuePrefix(connection, prefix, queue),
    concurrency,
    metrics: BULLMQ_METRICS,
    // Retention for jobs added without options, e.g. straight through BullMQ.
    removeOnComplete: contract.defaultJobOptions.removeOnComplete,
    removeOnFail: contract.defaultJobOptions.removeOnFail,
    ...(options.telemetry ? { telemetry: options.telemetry } : {}),
    ...options.workerOptions,
  });

  const count = (job: Job, outcome: Outcome) => {
    const jobName = label(job.name);
    const { processed, duration } = boundFor(jobName, outcome);
    processed.inc();
    const seconds = attemptSeconds.get(job);
    if (seconds !== undefined) duration.observe(seconds);
    usage?.record(tenantOf(job), queue, jobName, outcome, seconds);
  };

  const usage = recordUsage
    ? new UsageLedger({ connection, prefix, logger, retentionDays: options.usageRetentionDays ?? 40 })
    : undefined;
  const cancels = new CancelListener({
    worker,
    connection,
    prefix,
    queue,
    logger,
    sweepMs: options.cancelSweepMs ?? 2_000,
    active: activeJobs,
  });

  worker.on('completed', (job) => count(job, 'completed'));

  worker.on('failed', (job, error) => {
    if (!job) {
      logger.error({ queue, err: error }, 'a job failed and was removed before it could be dead-lettered');
      return;
    }
    // Plain fields, not a child logger: building one per failed attempt costs more than the line.
    const fields = { job_id: job.id, queue, job_name: job.name };
    if (error instanceof JobCancelledError) {
      count(job, 'cancelled');
      logger.info(fields, 'job cancelled on request');
      if (job.id)
        cancels
          .clear(job.id)
          .catch((err: unknown) => logger.warn({ ...fields, err }, 'could not clear the cancel marker'));
      return;
    }
    // BullMQ sets finishedOn only when the failure is final (no retry left, or unrecoverable).
    if (!job.finishedOn) {
      count(job, 'retried');
      logger.warn(
        { ...fields, err: error, attempt: job.attemptsMade },
        'job attempt failed; it will be retried',
      );
      return;
    }
    count(job, 'dead_lettered');
    if (!deadLetters) {
      logger.error({ ...fields, err: error, attempts: job.attemptsMade }, 'job failed for good');
      return;
    }
    logger.error(
      { ...fields, err: error, attempts: job.attemptsMade },
      'job failed for good; dead-lettering it',
    );
    // The record's id is derived from the failure itself: recording the same failure again adds nothing.
    const recording = deadLetters
      .capture(toDeadLetter(job, error))
      .then(
        (id) => logger.info({ ...fields, dead_letter_id: id }, 'job dead-lettered'),
        (err: unknown) => logger.error({ ...fields, err }, 'could not write the dead-letter record'),
      )
      .finally(() => pendingRecords.delete(recording));
    pendingRecords.add(recording);
  });

  worker.on('stalled', (jobId) => {
    metrics.stalled.inc({ queue });
    logger.warn({ job_id: jobId, queue }, 'job stalled (its worker lost the lock); it will run again');
  });

  worker.on('error', (error) => logger.error({ err: error, queue }, 'worker error'));

  return {
    worker,
    async close(timeoutMs = 30_000) {
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<false>((resolve) => {
        timer = setTimeout(() => resolve(false), timeoutMs);
      });
      const finished = await Promise.race([worker.close().then(() => true as const), deadline]);
      clearTimeout(timer);
      if (!finished) {
        logger.warn(
          { queue, timeoutMs },
          'jobs still running at the shutdown deadline; they will run again elsewhere',
        );
      }
      await Promise.all(pendingRecords);
      await Promise.all([deadLetters?.close(), cancels.close(), usage?.close()]);
      return finished;
    },
  };
}
