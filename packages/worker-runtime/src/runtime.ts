import { DeadLetterStore } from '@jobfleet/dead-letter-store';
import {
  announcesEnding,
  findJob,
  pendingCallbacksKey,
  type QueueContract,
  tenantOf,
  toDeadLetter,
  validate,
  type WebhookEventType,
  webhookDeliveryFor,
  webhooks,
} from '@jobfleet/queue-contracts';
import { bindHistogram, coalesceWrites, queuePrefix, type RedisClient } from '@jobfleet/service-kit';
import {
  type Job,
  MetricsTime,
  Queue,
  type Telemetry,
  WaitingError,
  type Worker,
  type WorkerOptions,
} from 'bullmq';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { BackoffWorker } from './backoff-worker.js';
import { CancelListener } from './cancel-listener.js';
import {
  InvalidPayloadError,
  JobCancelledError,
  JobLockLostError,
  ShuttingDownError,
  UnknownJobError,
} from './errors.js';
import type { HandlerMap, JobContext } from './handlers.js';
import { JobRun, type JobRunScope } from './job-run.js';
import { type Outcome, workerMetrics } from './metrics.js';
import { type RedisFault, RedisFaults } from './redis-faults.js';
import { OUTCOMES, UsageLedger } from './usage-ledger.js';

/** BullMQ's own default `lockDuration`, for a worker set up without one. */
const DEFAULT_LOCK_DURATION_MS = 30_000;

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
  /**
   * Pauses between fetches that fail with a Redis error reconnecting cannot
   * cure (`MOVED`, `OOM`, `READONLY`, …): the longest pause (default 30 s) and
   * how often each error kind is logged at most (default every 10 s).
   */
  errorBackoff?: { maxDelayMs?: number; logIntervalMs?: number; baseDelayMs?: number };
  /**
   * Coalesce `connection`'s writes per turn of the event loop (service-kit's
   * `coalesceWrites`): the commands many concurrent jobs send in one turn go
   * out in one write. Off by default: measured at concurrency 50 it saves
   * write syscalls (one write per ~16 jobs) but holding the completions to the
   * end of the turn makes the worker and Redis take turns instead of working
   * at once, and throughput fell to 0.65 of BullMQ set up alike (1.01 without).
   */
  coalesceWrites?: boolean;
  /** Passed through to BullMQ's `Worker` (lock duration, stalled checks, limiter, …). */
  workerOptions?: Partial<
    Pick<WorkerOptions, 'lockDuration' | 'stalledInterval' | 'maxStalledCount' | 'limiter' | 'drainDelay'>
  >;
}

export interface WorkerRuntime {
  readonly worker: Worker;
  /** Why the worker cannot fetch jobs now (a Redis error it backs off from), if it cannot. */
  fault(): RedisFault | undefined;
  /**
   * Stops fetching and waits for in-flight jobs, at most `timeoutMs`. Then the
   * signal of every handler still running is aborted, and each gets
   * `abortGraceMs` (default 5 s) to settle: one that returns completes its job;
   * one that throws, or is still running after the grace, has its job put back
   * to wait at once, without using an attempt (the next process runs it).
   * Resolves `true` when every job finished in time.
   */
  close(timeoutMs?: number, abortGraceMs?: number): Promise<boolean>;
}

/** The reason a handler's signal carries when the process aborts it at the shutdown deadline. */
export const SHUTDOWN_ABORT_REASON = 'jobfleet:shutdown';

/** Where the processor leaves an attempt's run time for the `completed`/`failed` listeners. */
const ATTEMPT_SECONDS = Symbol('jobfleet.attemptSeconds');
type TimedJob = Job & { [ATTEMPT_SECONDS]?: number };

const timeout = (ms: number) => {
  let timer: NodeJS.Timeout | undefined;
  const promise = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  return { promise, clear: () => clearTimeout(timer) };
};

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
  if (options.coalesceWrites) coalesceWrites(connection);
  // With telemetry, a record is added inside the failed attempt's span (BullMQ emits `failed` there).
  const deadLetters = deadLetterFailures
    ? new DeadLetterStore({ connection, prefix, telemetry: options.telemetry })
    : undefined;
  const pendingRecords = new Set<Promise<unknown>>();
  /** The `webhooks` queue, opened at the first completion webhook this process announces. */
  let webhookQueue: Queue | undefined;
  /** Started jobs whose completion webhook is not queued yet (see `pendingCallbacksKey`). */
  const pendingCallbacks = pendingCallbacksKey(queuePrefix(connection, prefix, queue), queue);
  /**
   * Adds the delivery of `job`'s completion event when it asked for one. The
   * event is read after BullMQ has recorded the ending, and the delivery's id is
   * derived from the job and the kind of ending, so that a second announcement
   * (another path, a replayed event) adds nothing. Once it is added, the job
   * leaves the pending set; until then the DLQ processor would add it.
   */
  const announce = (job: Job, type: WebhookEventType) => {
    const delivery = webhookDeliveryFor(queue, job, type);
    if (!delivery) return;
    webhookQueue ??= new Queue(webhooks.name, {
      connection,
      prefix: queuePrefix(connection, prefix, webhooks.name),
      ...(options.telemetry ? { telemetry: options.telemetry } : {}),
    });
    const fields = { job_id: job.id, queue, job_name: job.name, webhook_id: delivery.opts.jobId };
    const adding = webhookQueue
      .add(delivery.name, delivery.data, delivery.opts)
      .then(
        () => {
          logger.debug(fields, 'completion webhook queued');
          return connection
            .zrem(pendingCallbacks, delivery.data.event.data.id)
            .catch((err: unknown) =>
              logger.warn({ ...fields, err }, 'could not clear the pending completion webhook'),
            );
        },
        (err: unknown) =>
          logger.error(
            { ...fields, err },
            'could not queue the completion webhook; the DLQ processor will queue it',
          ),
      )
      .finally(() => pendingRecords.delete(adding));
    pendingRecords.add(adding);
  };
  /** The jobs this process runs now, by id: for cancel requests and for shutdown. */
  const runs = new Map<string, JobRun>();
  const runScope: JobRunScope = {
    logger,
    queue,
    lockDuration: () => worker.opts.lockDuration ?? DEFAULT_LOCK_DURATION_MS,
  };
  /** Set once `close()` begins: from then on a handler's `ShuttingDownError` puts its job back to wait. */
  let stopping = false;
  const faults = new RedisFaults({ queue, logger, ...options.errorBackoff });
  // Label values stay a closed set even when a job was added with a name the contract lacks.
  const label = (name: string) => (findJob(contract, name) ? name : 'unknown');
  const activeGauge = metrics.active.labels({ queue });
  activeGauge.set(0);
  /** Jobs running now; handed to the gauge when metrics are read (see `WorkerMetrics.beforeCollect`). */
  let activeCount = 0;
  // prom-client hashes label objects on every call, bound children too: each label set is bound once
  // (service-kit's `bindHistogram`), and attempts are counted in `pending`, handed over to the counter
  // when metrics are read.
  interface Bound {
    processed: { inc(value?: number): void };
    duration: { observe(v: number): void };
    pending: number;
  }
  const bound = new Map<string, Record<Outcome, Bound>>();
  const boundFor = (jobName: string, outcome: Outcome): Bound => {
    let byOutcome = bound.get(jobName);
    if (!byOutcome) {
      const of = (outcome: Outcome): Bound => {
        const labels = { queue, job_name: jobName, outcome };
        return {
          processed: metrics.processed.labels(labels),
          duration: bindHistogram(metrics.duration, labels),
          pending: 0,
        };
      };
      byOutcome = {
        completed: of('completed'),
        retried: of('retried'),
        dead_lettered: of('dead_lettered'),
        cancelled: of('cancelled'),
      };
      bound.set(jobName, byOutcome);
    }
    return byOutcome[outcome];
  };
  const flushMetrics = () => {
    activeGauge.set(activeCount);
    for (const byOutcome of bound.values()) {
      for (const outcome of OUTCOMES) {
        const entry = byOutcome[outcome];
        if (entry.pending === 0) continue;
        entry.processed.inc(entry.pending);
        entry.pending = 0;
      }
    }
  };
  metrics.beforeCollect.add(flushMetrics);
  const waitFor = new Map<string, { observe(v: number): void }>();
  const waitSeries = (jobName: string) => {
    let series = waitFor.get(jobName);
    if (!series) {
      series = bindHistogram(metrics.wait, { queue, job_name: jobName });
      waitFor.set(jobName, series);
    }
    return series;
  };

  // Every series exists from the start at 0, so rate() and increase() see a process's first event too
  // (binding a histogram's series makes it at 0).
  metrics.stalled.inc({ queue }, 0);
  for (const jobName of Object.keys(contract.jobs)) {
    waitSeries(jobName);
    for (const outcome of OUTCOMES) boundFor(jobName, outcome).processed.inc(0);
  }

  // Two parameters: BullMQ then makes no AbortSignal per job; a run makes its own when its handler reads it.
  const processor = async (job: Job, token?: string): Promise<unknown> => {
    const started = performance.now();
    activeCount += 1;
    const run = new JobRun(job, token, runScope);
    try {
      // Before anything can end the job: should this process die between BullMQ recording the
      // ending and the webhook's add, the pending entry lets the DLQ processor add it.
      if (announcesEnding(queue, job)) await connection.zadd(pendingCallbacks, Date.now(), job.id);
      const definition = findJob(contract, job.name);
      if (job.attemptsStarted <= 1 && job.processedOn) {
        const readyAt = job.timestamp + (job.opts.delay ?? 0);
        waitSeries(definition ? job.name : 'unknown').observe(Math.max(0, job.processedOn - readyAt) / 1000);
      }
      const handler = handlers[job.name];
      if (!definition || !handler) throw new UnknownJobError(queue, job.name);
      const check = validate(definition.data, job.data);
      if (!check.ok) throw new InvalidPayloadError(job.name, check.issues);
      const running = handler(job.data, run);
      if (!job.id) return await running;
      const id = job.id;
      run.handler = running;
      // A cancelled job ends now, whether or not its handler honours the signal. The cancel
      // listener calls `end` directly: an abort listener per job would cost more than the rest.
      try {
        return await new Promise<unknown>((resolve, reject) => {
          run.end = reject;
          runs.set(id, run);
          running.then(resolve, reject);
        });
      } catch (error) {
        if (
          stopping &&
          !(error instanceof JobCancelledError) &&
          (run.abortedForShutdown || error instanceof ShuttingDownError)
        ) {
          await requeue(job, token, error);
          // Tells BullMQ the job has left `active` already: no failure, no attempt, no retry.
          throw new WaitingError();
        }
        if (error instanceof JobLockLostError) {
          logger.warn({ job_id: job.id, queue, job_name: job.name }, error.message);
          // Not this worker's job any more: record nothing, leave it to its new owner.
          throw new WaitingError();
        }
        throw error;
      }
    } finally {
      if (job.id) runs.delete(job.id);
      (job as TimedJob)[ATTEMPT_SECONDS] = (performance.now() - started) / 1000;
      activeCount -= 1;
    }
  };

  /** Puts an active job back to wait (at the head), its lock released: no attempt counted, nothing stalled. */
  const requeue = async (job: Job, token: string | undefined, cause: unknown) => {
    const fields = { job_id: job.id, queue, job_name: job.name, attempt: job.attemptsMade + 1 };
    try {
      await job.moveToWait(token);
      logger.info(
        { ...fields, reason: cause instanceof Error ? cause.message : String(cause) },
        'job put back to wait at shutdown; it keeps its attempt',
      );
    } catch (err) {
      // Redis refused: the job stays active and its lock runs out; stalled-job recovery runs it again.
      logger.error({ ...fields, err }, 'could not put the job back to wait at shutdown');
    }
  };

  const worker = new BackoffWorker(
    queue,
    processor,
    {
      connection,
      prefix: queuePrefix(connection, prefix, queue),
      concurrency,
      metrics: BULLMQ_METRICS,
      // Retention for jobs added without options, e.g. straight through BullMQ.
      removeOnComplete: contract.defaultJobOptions.removeOnComplete,
      removeOnFail: contract.defaultJobOptions.removeOnFail,
      ...(options.telemetry ? { telemetry: options.telemetry } : {}),
      ...options.workerOptions,
    },
    faults,
  );

  const count = (job: Job, outcome: Outcome) => {
    const jobName = label(job.name);
    const entry = boundFor(jobName, outcome);
    entry.pending += 1;
    const seconds = (job as TimedJob)[ATTEMPT_SECONDS];
    if (seconds !== undefined) entry.duration.observe(seconds);
    usage?.record(tenantOf(job), queue, jobName, outcome, seconds);
  };

  const usage = recordUsage
    ? new UsageLedger({
        connection,
        prefix,
        logger,
        retentionDays: options.usageRetentionDays ?? 40,
        onWriteError: (error) => faults.report(error, 'could not write usage; will retry'),
      })
    : undefined;
  const cancels = new CancelListener({
    connection,
    prefix,
    queue,
    logger,
    sweepMs: options.cancelSweepMs ?? 2_000,
    active: runs,
  });

  // BullMQ emits `completed` once the job is recorded as completed, with its result.
  worker.on('completed', (job) => {
    count(job, 'completed');
    announce(job, 'job.completed');
  });

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
      announce(job, 'job.cancelled');
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
    announce(job, 'job.failed');
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

  // Bounded: a Redis that refuses every command would otherwise log thousands of lines a second.
  worker.on('error', (error) => faults.report(error));

  return {
    worker,
    fault: () => faults.fault,
    async close(timeoutMs = 30_000, abortGraceMs = 5_000) {
      stopping = true;
      const closed = worker.close();
      const deadline = timeout(timeoutMs);
      const finished = await Promise.race([closed.then(() => true as const), deadline.promise]);
      deadline.clear();
      if (!finished) {
        const stuck = [...runs.values()];
        logger.warn(
          { queue, timeoutMs, jobs: stuck.length, abort_grace_ms: abortGraceMs },
          'jobs still running at the shutdown deadline; aborting them and putting them back to wait',
        );
        for (const run of stuck) {
          run.abortedForShutdown = true;
          run.abort(SHUTDOWN_ABORT_REASON);
        }
        const grace = timeout(abortGraceMs);
        await Promise.race([Promise.allSettled(stuck.map((run) => run.handler)), grace.promise]);
        grace.clear();
        // Handlers that ignore their signal: their jobs go back now; whatever they still do is theirs.
        for (const [id, entry] of runs) {
          if (!entry.abortedForShutdown) continue;
          logger.warn(
            { job_id: id, queue, job_name: entry.job.name },
            'handler still running after its signal was aborted; putting its job back to wait anyway',
          );
          entry.end(new ShuttingDownError());
        }
        // Each job is back in `wait` (or Redis refused); bounded in case Redis does not answer at all.
        const requeued = timeout(abortGraceMs);
        await Promise.race([closed, requeued.promise]);
        requeued.clear();
      }
      faults.close();
      flushMetrics();
      metrics.beforeCollect.delete(flushMetrics);
      await Promise.all(pendingRecords);
      await Promise.all([deadLetters?.close(), cancels.close(), usage?.close(), webhookQueue?.close()]);
      return finished;
    },
  };
}
