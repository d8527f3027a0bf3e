import { DURATION_BUCKETS } from '@jobfleet/service-kit';
import { Counter, Histogram, type Registry } from 'prom-client';

/** `accepted`: enqueued; `rejected`: refused for the client's fault (4xx); `failed`: the gateway's (5xx). */
export type EnqueueResult = 'accepted' | 'rejected' | 'failed';

export interface GatewayMetrics {
  httpDuration: Histogram<'method' | 'route' | 'status_code'>;
  enqueued: Counter<'queue' | 'job_name' | 'client' | 'result'>;
}

/** Requests that matched no route share one `route` label value, so raw URLs never become labels. */
export const UNMATCHED_ROUTE = 'unmatched';

const cache = new WeakMap<Registry, GatewayMetrics>();

/** The gateway's own metrics, registered once per registry. */
export function gatewayMetrics(registry: Registry): GatewayMetrics {
  const existing = cache.get(registry);
  if (existing) return existing;
  const registers = [registry];
  const metrics: GatewayMetrics = {
    httpDuration: new Histogram({
      name: 'jobfleet_http_request_duration_seconds',
      help: 'Time to answer an HTTP request, by method, route pattern and status code.',
      labelNames: ['method', 'route', 'status_code'],
      buckets: DURATION_BUCKETS,
      registers,
    }),
    enqueued: new Counter({
      name: 'jobfleet_jobs_enqueued_total',
      help: 'Enqueue requests from authenticated clients, by queue, job name, client (API key id) and result.',
      labelNames: ['queue', 'job_name', 'client', 'result'],
      registers,
    }),
  };
  cache.set(registry, metrics);
  return metrics;
}
