import type { PushAnswer } from '@jobfleet/worker-runtime';
import { Counter, type Registry } from 'prom-client';

/** How an endpoint answered one request: its status class, or why there was no answer. */
export type Answer = PushAnswer;

export const ANSWERS: readonly Answer[] = ['2xx', '3xx', '4xx', '5xx', 'timeout', 'connection_error'];

/** The http-worker's own metrics, beside the runtime's per-job ones. */
export function httpWorkerMetrics(registry: Registry) {
  return {
    answers: new Counter({
      name: 'jobfleet_http_worker_answers_total',
      help: "Requests to a queue's endpoint, by how it answered (status class, timeout or connection error); cancelled requests are not counted.",
      labelNames: ['queue', 'answer'] as const,
      registers: [registry],
    }),
  };
}

export type HttpWorkerMetrics = ReturnType<typeof httpWorkerMetrics>;
