import { commonConfig, env } from '@jobfleet/service-kit';

/** The environment keys every worker reads; `defaults` are the app's own. */
export function workerConfig(defaults: { metricsPort: number; concurrency: number }) {
  return {
    ...commonConfig,
    METRICS_PORT: env.integer({ default: defaults.metricsPort, min: 0, max: 65_535 }),
    WORKER_CONCURRENCY: env.integer({ default: defaults.concurrency, min: 1, max: 1_000 }),
    WORKER_LOCK_DURATION_MS: env.duration({ default: 30_000, min: 1_000 }),
    WORKER_STALLED_INTERVAL_MS: env.duration({ default: 30_000, min: 1_000 }),
    WORKER_MAX_STALLED_COUNT: env.integer({ default: 1, min: 0, max: 100 }),
    USAGE_RETENTION_DAYS: env.integer({ default: 40, min: 1, max: 3_650 }),
  };
}

/** What `runWorker` reads of an app's configuration. */
export interface WorkerConfig {
  readonly redisUrl: string;
  readonly jobfleetPrefix: string;
  readonly host: string;
  readonly logLevel: string;
  readonly shutdownTimeoutMs: number;
  readonly metricsToken: string | undefined;
  readonly metricsPort: number;
  readonly workerConcurrency: number;
  readonly workerLockDurationMs: number;
  readonly workerStalledIntervalMs: number;
  readonly workerMaxStalledCount: number;
  readonly usageRetentionDays: number;
}
