import { collectDefaultMetrics, Registry } from 'prom-client';

/** Every jobfleet metric name starts with this. */
export const METRIC_PREFIX = 'jobfleet_';

/** A fresh registry with prom-client's default process metrics. */
export function createMetricsRegistry(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return registry;
}

/** Buckets (seconds) from a few milliseconds to ten minutes: e-mail seconds and report minutes alike. */
export const DURATION_BUCKETS = [
  0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600,
];
