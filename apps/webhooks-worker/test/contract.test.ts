import { webhooks, withOrigin } from '@jobfleet/queue-contracts';
import { generateWebhookSecret } from '@jobfleet/service-kit';
import { workerContractSuite } from '@jobfleet/test-utils';
import type { HandlerMap } from '@jobfleet/worker-runtime';
import { afterAll } from 'vitest';
import { worker } from '../src/worker.js';
import { startReceiver } from './receiver.js';

// What every jobfleet worker owes its queue, against a real Redis and a receiver that answers 204.
const receiver = await startReceiver();
afterAll(() => receiver.close());

const event = {
  type: 'job.completed',
  timestamp: '2026-12-06T10:00:00.000Z',
  data: { queue: 'emails', id: '1', name: 'welcome', result: null, finishedAt: '2026-12-06T10:00:00.000Z' },
};
const keys = JSON.stringify([
  {
    id: 'contract-suite',
    key: 'contract-suite-0123456789',
    scopes: ['admin'],
    webhookSecret: generateWebhookSecret(),
  },
]);

/**
 * The suite adds its jobs straight through BullMQ, without the origin the
 * gateway and the runtime record, and an unsigned delivery fails for good: each
 * job is given one on its way to the handler.
 */
const signedBy = (handlers: HandlerMap<typeof webhooks>): HandlerMap<typeof webhooks> => ({
  deliver: (data, context) => {
    context.job.opts = withOrigin(context.job.opts, { client: 'contract-suite' });
    return handlers.deliver(data, context);
  },
});

workerContractSuite({
  contract: webhooks,
  valid: { name: 'deliver', data: { url: `${receiver.origin}/hook`, event } },
  invalid: { name: 'deliver', data: { url: 'ftp://example.com/', event } },
  start: ({ env, wrap }) =>
    worker.start({
      env: { ...env, GATEWAY_API_KEYS: keys, WEBHOOK_ALLOW_PRIVATE_NETWORKS: 'true' },
      wrap: (handlers) => wrap(signedBy(handlers)),
    }),
});
