import { catalog, deadLetters } from '@jobfleet/queue-contracts';
import {
  bindCounter,
  bindHistogram,
  DURATION_BUCKETS,
  perRegistry,
  registerQueueInfo,
} from '@jobfleet/service-kit';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/**
 * `accepted`: a new job; `duplicate`: no new job, the request was a replay (an
 * Idempotency-Key seen before, or a custom job id that exists); `rejected`:
 * refused for the client's fault (4xx); `failed`: the gateway's (5xx).
 */
export type EnqueueResult = 'accepted' | 'duplicate' | 'rejected' | 'failed';

export interface GatewayMetrics {
  httpDuration: Histogram<'method' | 'route' | 'status_code'>;
  enqueued: Counter<'queue' | 'job_name' | 'client' | 'result'>;
  /** Jobs per queue and state, read from Redis at scrape time (see `QueueStats`). */
  queueJobs: Gauge<'queue' | 'state'>;
  /** Age of the oldest waiting job per queue: the autoscaling signal. */
  queueOldestWaiting: Gauge<'queue'>;
  /** Dead-letter records sent back to their source queue, by source queue. */
  deadLetterRedrives: Counter<'queue'>;
  /**
   * Counts `n` jobs of an enqueue request. The label set is bound once and
   * reused (service-kit's `bindCounter`): prom-client hashes a label object on
   * every call, bound children too, which the enqueue hot path would otherwise
   * pay each time.
   */
  countEnqueued(queue: string, jobName: string, client: string, result: EnqueueResult, n?: number): void;
  /** Observes one answered request, with its label set bound once (see `countEnqueued`). */
  observeHttp(method: string, route: string, statusCode: number, seconds: number): void;
  /**
   * Called when the queue gauges are scraped, to set them first; the app sets
   * it (the gauges outlive an app in tests that share one registry).
   */
  refreshQueueGauges: (() => Promise<void>) | undefined;
}

/** Requests that matched no route share one `route` label value, so raw URLs never become labels. */
export const UNMATCHED_ROUTE = 'unmatched';

/** The gateway's own metrics, registered once per registry. */
export const gatewayMetrics: (registry: Registry) => GatewayMetrics = perRegistry((registers) => {
  const enqueued = new Counter({
    name: 'jobfleet_jobs_enqueued_total',
    help: 'Jobs in enqueue requests from authenticated clients, by queue, job name, client (API key id) and result.',
    labelNames: ['queue', 'job_name', 'client', 'result'] as const,
    registers,
  });
  const deadLetterRedrives = new Counter({
    name: 'jobfleet_dead_letter_redrives_total',
    help: 'Dead-letter records sent back to their source queue through the gateway, by source queue.',
    labelNames: ['queue'] as const,
    registers,
  });
  // Every catalog queue shows 0 from the start, so rate() and alerts see the series before the first redrive.
  for (const queue of Object.keys(catalog)) deadLetterRedrives.labels({ queue }).inc(0);
  // The gateway knows every queue: the alert rules join their `team` from here even when no worker runs.
  for (const registry of registers) registerQueueInfo(registry, [...Object.values(catalog), deadLetters]);
  const bound = new Map<string, { inc(n?: number): void }>();
  const boundHttp = new Map<string, { observe(seconds: number): void }>();
  // Both gauges ask; the refresher caches and shares one read per scrape.
  const collect = async () => {
    await metrics.refreshQueueGauges?.();
  };
  const metrics: GatewayMetrics = {
    refreshQueueGauges: undefined,
    httpDuration: new Histogram({
      name: 'jobfleet_http_request_duration_seconds',
      help: 'Time to answer an HTTP request, by method, route pattern and status code.',
      labelNames: ['method', 'route', 'status_code'],
      buckets: DURATION_BUCKETS,
      registers,
    }),
    enqueued,
    deadLetterRedrives,
    queueJobs: new Gauge({
      name: 'jobfleet_queue_jobs',
      help: 'Jobs in a queue, by state (read from Redis at scrape time, cached briefly).',
      labelNames: ['queue', 'state'],
      registers,
      collect,
      // Under GATEWAY_WORKERS every worker reads the same queues: count them once.
      aggregator: 'first',
    }),
    queueOldestWaiting: new Gauge({
      name: 'jobfleet_queue_oldest_waiting_seconds',
      help: 'Age of the oldest job waiting to start in a queue (0 when none waits).',
      labelNames: ['queue'],
      registers,
      collect,
      aggregator: 'first',
    }),
    observeHttp(method, route, statusCode, seconds) {
      const key = `${method} ${statusCode} ${route}`;
      let child = boundHttp.get(key);
      if (!child) {
        child = bindHistogram(metrics.httpDuration, { method, route, status_code: String(statusCode) });
        boundHttp.set(key, child);
      }
      child.observe(seconds);
    },
    countEnqueued(queue, jobName, client, result, n = 1) {
      const key = `${queue}\u0000${jobName}\u0000${client}\u0000${result}`;
      let child = bound.get(key);
      if (!child) {
        child = bindCounter(enqueued, { queue, job_name: jobName, client, result });
        bound.set(key, child);
      }
      child.inc(n);
    },
  };
  return metrics;
});
