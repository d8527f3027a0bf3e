import { type ConfigOf, commonConfig, type EnvVar, env } from '@jobfleet/service-kit';

/** Jobs at once per queue when neither the environment nor the definition says otherwise. */
export const DEFAULT_CONCURRENCY = 10;

/** An integer from 1 to 1000, or `undefined` when unset (the definition's default then applies). */
function optionalConcurrency(): EnvVar<number | undefined> {
  const concurrency = env.integer({ min: 1, max: 1_000 });
  return { parse: (raw) => concurrency.parse(raw), fallback: () => undefined };
}

/**
 * The environment keys every worker process reads; `metricsPort` is the app's
 * default `METRICS_PORT`. `defineWorker` adds them to an app's own keys.
 */
export function workerConfig(defaults: { metricsPort: number }) {
  return {
    ...commonConfig,
    METRICS_PORT: env.integer({ default: defaults.metricsPort, min: 0, max: 65_535 }),
    /**
     * Jobs at once of the process's first queue (its own); unset: the
     * definition's default. Further queues have `WORKER_CONCURRENCY_<QUEUE>`.
     */
    WORKER_CONCURRENCY: optionalConcurrency(),
    WORKER_LOCK_DURATION_MS: env.duration({ default: 30_000, min: 1_000 }),
    WORKER_STALLED_INTERVAL_MS: env.duration({ default: 30_000, min: 1_000 }),
    WORKER_MAX_STALLED_COUNT: env.integer({ default: 1, min: 0, max: 100 }),
    USAGE_RETENTION_DAYS: env.integer({ default: 40, min: 1, max: 3_650 }),
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
export const queueConcurrencyVar = optionalConcurrency;
