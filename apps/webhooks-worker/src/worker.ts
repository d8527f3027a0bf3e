import { webhooks } from '@jobfleet/queue-contracts';
import { defineWorker } from '@jobfleet/worker-runtime';
import { handlers } from './handlers.js';

/** The webhooks-worker: the `webhooks` queue's handlers, with metrics and health on port 9105. */
export const worker = defineWorker({
  service: 'webhooks-worker',
  metricsPort: 9105,
  queues: [{ contract: webhooks, handlers }],
});
