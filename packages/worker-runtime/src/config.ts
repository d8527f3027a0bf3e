import { type ConfigOf, commonConfig, type EnvVar, env } from '@jobfleet/service-kit';

/** Jobs at once per queue when neither the environment nor the definition says otherwise. */
export const DEFAULT_CONCURRENCY = 10;

/** An integer from 1 to 1000, or `undefined` when unset (the definition's default then applies). */
function optionalConcurrency(doc?: string): EnvVar<number | undefined> {
  const concurrency = env.integer({ min: 1, max: 1_000 });
  return {
    parse: (raw) => concurrency.parse(raw),
    fallback: () => undefined,
    defaultText: String(DEFAULT_CONCURRENCY),
    ...(doc === undefined ? {} : { doc }),
  };
}

/**
 * The environment keys every worker process reads; `metricsPort` is the app's
 * default `METRICS_PORT`. `defineWorker` adds them to an app's own keys.
 */
export function workerConfig(defaults: { metricsPort: number }) {
  return {
    ...commonConfig,
    METRICS_PORT: env.integer({
      default: defaults.metricsPort,
      min: 0,
      max: 65_535,
      doc: "Where `/metrics` and `/health/*` answer (the app's port in `fleet.json`).",
    }),
    /**
     * Jobs at once of the process's first queue (its own); unset: the
     * definition's default. Further queues have `WORKER_CONCURRENCY_<QUEUE>`.
     */
    WORKER_CONCURRENCY: optionalConcurrency("Jobs at once of the process's (first) queue."),
    WORKER_LOCK_DURATION_MS: env.duration({
      default: 30_000,
      min: 1_000,
      doc: 'A job whose worker stops renewing its lock this long is recovered by another.',
    }),
    WORKER_STALLED_INTERVAL_MS: env.duration({
      default: 30_000,
      min: 1_000,
      doc: 'How often workers look for such stalled jobs.',
    }),
    WORKER_MAX_STALLED_COUNT: env.integer({
      default: 1,
      min: 0,
      max: 100,
      doc: 'Recoveries before a job fails as stalled (and is dead-lettered).',
    }),
    WORKER_ERROR_BACKOFF_MAX_MS: env.duration({
      default: 30_000,
      min: 100,
      max: 600_000,
      doc: 'Longest pause between fetches while Redis refuses them (`MOVED`, `OOM`, `READONLY`, …); pauses start at 250 ms and double.',
    }),
    WORKER_ERROR_LOG_INTERVAL_MS: env.duration({
      default: 10_000,
      min: 100,
      max: 3_600_000,
      doc: 'Each kind of worker error is logged at most once per interval; the repeats as one line with a count.',
    }),
    USAGE_RETENTION_DAYS: env.integer({
      default: 40,
      min: 1,
      max: 3_650,
      doc: 'Days the per-tenant usage ledger keeps each day.',
    }),
  };
}

/** The spec of the keys every worker reads. */
export type WorkerConfigSpec = ReturnType<typeof workerConfig>;

/** The keys every worker reads, loaded. */
export type WorkerConfig = ConfigOf<WorkerConfigSpec>;

/**
 * The environment key of a further queue's concurrency in a process that
 * serves several: `WORKER_CONCURRENCY_` and the queue name upper-cased, `-` as
 * `_` (`dead-letters` → `WORKER_CONCURRENCY_DEAD_LETTERS`).
 */
export function concurrencyKey(queue: string): string {
  return `WORKER_CONCURRENCY_${queue.toUpperCase().replaceAll('-', '_')}`;
}

/** The spec of one further queue's concurrency key. */
export const queueConcurrencyVar = (queue: string): EnvVar<number | undefined> =>
  optionalConcurrency(`Jobs at once of the \`${queue}\` queue.`);
