import type { PushAnswer } from '@jobfleet/worker-runtime';
import { Counter, Histogram, type Registry } from 'prom-client';

/** Every way a delivery request ends, each counted from 0. */
export const ANSWERS: readonly PushAnswer[] = [
  '2xx',
  '3xx',
  '4xx',
  '5xx',
  'timeout',
  'connection_error',
  'private_address',
];

/** The webhooks-worker's own metrics, beside the runtime's per-job ones (queue `webhooks`). */
export function webhookMetrics(registry: Registry) {
  const answers = new Counter({
    name: 'jobfleet_webhook_requests_total',
    help: 'Completion webhook requests, by how the receiver answered (status class, timeout, connection error, or refused private address).',
    labelNames: ['answer'] as const,
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'jobfleet_webhook_request_duration_seconds',
    help: 'Time from sending a completion webhook to its answer (or failure).',
    labelNames: ['answer'] as const,
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  for (const answer of ANSWERS) {
    answers.inc({ answer }, 0);
    duration.zero({ answer });
  }
  return { answers, duration };
}

export type WebhookMetrics = ReturnType<typeof webhookMetrics>;
