import { catalog, deadLetters } from '@jobfleet/queue-contracts';
import { DURATION_BUCKETS, perRegistry, registerQueueInfo } from '@jobfleet/service-kit';
import { Counter, Histogram } from 'prom-client';

/** `success`; `failure`: wrong name or password; `throttled`: refused after too many failures. */
export type LoginOutcome = 'success' | 'failure' | 'throttled';

export interface DashboardMetrics {
  httpDuration: Histogram<'method' | 'route' | 'status_code'>;
  logins: Counter<'outcome'>;
}

/** Requests that matched no route share one `route` label value, so raw URLs never become labels. */
export const UNMATCHED_ROUTE = 'unmatched';

/** The dashboard's own metrics, registered once per registry. */
export const dashboardMetrics = perRegistry((registers): DashboardMetrics => {
  const metrics: DashboardMetrics = {
    httpDuration: new Histogram({
      name: 'jobfleet_http_request_duration_seconds',
      help: 'Time to answer an HTTP request, by method, route pattern and status code.',
      labelNames: ['method', 'route', 'status_code'],
      buckets: DURATION_BUCKETS,
      registers,
    }),
    logins: new Counter({
      name: 'jobfleet_dashboard_logins_total',
      help: 'Dashboard login attempts, by outcome (success, failure, throttled).',
      labelNames: ['outcome'],
      registers,
    }),
  };
  for (const outcome of ['success', 'failure', 'throttled'] as const)
    metrics.logins.labels({ outcome }).inc(0);
  for (const registry of registers) registerQueueInfo(registry, [...Object.values(catalog), deadLetters]);
  return metrics;
});
