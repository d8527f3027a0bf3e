import {
  type Counter,
  collectDefaultMetrics,
  Gauge,
  type Histogram,
  type LabelValues,
  Registry,
} from 'prom-client';

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

/** One series of a histogram, as prom-client keeps it. */
interface HistogramSeries {
  sum: number;
  count: number;
  bucketValues: Record<string, number>;
}

/** What {@link bindHistogram} and {@link bindCounter} read of a prom-client metric. */
interface SeriesMap<S> {
  hashMap?: Record<string, S>;
  upperBounds?: readonly number[];
  enableExemplars?: boolean;
}

/**
 * A reader of `labels`' series in `metric`'s map: found (made at zero by
 * `create` if missing) once, and again only after the metric was reset or the
 * series removed; `undefined` when the entry is not what `fits` expects.
 */
function seriesOf<S extends { labels: object }>(
  metric: SeriesMap<S>,
  labels: Record<string, string | number>,
  create: () => void,
  fits: (entry: S) => boolean,
): () => S | undefined {
  const size = Object.keys(labels).length;
  const search = () => {
    const map = metric.hashMap;
    if (typeof map !== 'object' || map === null) return undefined;
    for (const [key, entry] of Object.entries(map)) {
      const theirs = entry.labels as Record<string, unknown>;
      const names = Object.keys(theirs);
      if (names.length === size && names.every((n) => String(theirs[n]) === String(labels[n]))) {
        return { map, key, entry };
      }
    }
    return undefined;
  };
  const find = () => {
    let found = search();
    if (found === undefined) {
      create();
      found = search();
    }
    return found !== undefined && fits(found.entry) ? found : undefined;
  };
  let found = find();
  return () => {
    if (found === undefined || metric.hashMap !== found.map || found.map[found.key] !== found.entry) {
      found = find();
    }
    return found?.entry;
  };
}

/**
 * `histogram`'s series of `labels`, to observe with the label set worked out
 * once. prom-client checks and hashes the label object on every `observe`,
 * bound children (`labels(…)`) too; a hot path that observes per request or per
 * job pays that each time. Falls back to prom-client's own `observe` for
 * histograms with exemplars, for values it refuses, or should its series not
 * look as expected.
 */
export function bindHistogram<T extends string>(
  histogram: Histogram<T>,
  labels: LabelValues<T>,
): { observe(value: number): void } {
  const metric = histogram as unknown as SeriesMap<HistogramSeries & { labels: object }>;
  const bounds = metric.upperBounds;
  const fallback = histogram.labels(labels);
  if (metric.enableExemplars || !Array.isArray(bounds)) return fallback;
  const entryOf = seriesOf(
    metric,
    labels as Record<string, string | number>,
    () => histogram.zero(labels),
    (entry) =>
      typeof entry.sum === 'number' &&
      typeof entry.count === 'number' &&
      typeof entry.bucketValues === 'object',
  );
  if (entryOf() === undefined) return fallback;
  const keys = bounds.map(String);
  return {
    observe(value) {
      const entry = Number.isFinite(value) ? entryOf() : undefined;
      if (entry === undefined) return fallback.observe(value);
      entry.sum += value;
      entry.count += 1;
      // As prom-client: the first bound not below the value; above them all, only +Inf (the count).
      for (let i = 0; i < bounds.length; i++) {
        if (value <= (bounds[i] as number)) {
          (entry.bucketValues[keys[i] as string] as number) += 1;
          break;
        }
      }
    },
  };
}

/**
 * `counter`'s series of `labels`, to count with the label set worked out once
 * (see {@link bindHistogram}).
 */
export function bindCounter<T extends string>(
  counter: Counter<T>,
  labels: LabelValues<T>,
): { inc(value?: number): void } {
  const metric = counter as unknown as SeriesMap<{ value: number; labels: object }>;
  const fallback = counter.labels(labels);
  if (metric.enableExemplars) return fallback;
  const entryOf = seriesOf(
    metric,
    labels as Record<string, string | number>,
    () => counter.inc(labels, 0),
    (entry) => typeof entry.value === 'number',
  );
  if (entryOf() === undefined) return fallback;
  return {
    inc(value = 1) {
      // prom-client's own checks and errors for what is not a count.
      const entry = Number.isFinite(value) && value >= 0 ? entryOf() : undefined;
      if (entry === undefined) return fallback.inc(value);
      entry.value += value;
    },
  };
}
