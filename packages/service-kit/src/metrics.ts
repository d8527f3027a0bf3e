import { collectDefaultMetrics, Gauge, Registry } from 'prom-client';

/** Every jobfleet metric name starts with this. */
export const METRIC_PREFIX = 'jobfleet_';

/**
 * prom-client's default gauges that carry a `_total` suffix, which promtool
 * rejects; the per-type gauges without the suffix carry the same counts.
 */
const MISNAMED_DEFAULTS = [
  'nodejs_active_handles_total',
  'nodejs_active_requests_total',
  'nodejs_active_resources_total',
];

/**
 * Builds a set of metrics once per registry: prom-client refuses a second
 * metric of the same name in one registry, and several parts of a process
 * may ask for the same set.
 */
export function perRegistry<T>(build: (registers: Registry[]) => T): (registry: Registry) => T {
  const cache = new WeakMap<Registry, T>();
  return (registry) => {
    let metrics = cache.get(registry);
    if (metrics === undefined) {
      metrics = build([registry]);
      cache.set(registry, metrics);
    }
    return metrics;
  };
}

/** A fresh registry with prom-client's default process metrics. */
export function createMetricsRegistry(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  for (const name of MISNAMED_DEFAULTS) registry.removeSingleMetric(name);
  return registry;
}

/** Buckets (seconds) from a few milliseconds to ten minutes: e-mail seconds and report minutes alike. */
export const DURATION_BUCKETS = [
  0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600,
];

/** What `jobfleet_queue_info` needs of a queue contract. */
export interface QueueOwner {
  readonly name: string;
  readonly team: string;
}

/**
 * `jobfleet_queue_info{queue,team} 1` for every queue the process knows:
 * alert rules join it (`group_left(team)`) so each queue's alerts carry the
 * team that owns it, and Alertmanager routes them on that label.
 */
export function registerQueueInfo(registry: Registry, queues: Iterable<QueueOwner>): void {
  const name = `${METRIC_PREFIX}queue_info`;
  const gauge =
    (registry.getSingleMetric(name) as Gauge<'queue' | 'team'> | undefined) ??
    new Gauge({
      name,
      help: 'One series per queue the process knows, labelled with the team that owns it; always 1.',
      labelNames: ['queue', 'team'],
      registers: [registry],
      // Processes of one cluster (GATEWAY_WORKERS) know the same queues: not a sum.
      aggregator: 'first',
    });
  for (const queue of queues) gauge.labels({ queue: queue.name, team: queue.team }).set(1);
}
