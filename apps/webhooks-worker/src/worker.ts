import { webhooks } from '@jobfleet/queue-contracts';
import { defineWorker, publicOnlyAgent } from '@jobfleet/worker-runtime';
import { secretsOf, webhooksWorkerConfig } from './config.js';
import { createHandlers } from './handlers.js';
import { webhookMetrics } from './metrics.js';

/** The default `METRICS_PORT` (fleet.json's port of the app). */
export const METRICS_PORT = 9105;

/**
 * The webhooks-worker: delivers completion webhooks, the `deliver` jobs that
 * workers and the gateway add when a job with `options.callback` ends; metrics
 * and health on port 9105.
 */
export const worker = defineWorker({
  service: 'webhooks-worker',
  metricsPort: METRICS_PORT,
  config: webhooksWorkerConfig,
  resources: ({ config, registry }) => {
    const agent = config.webhookAllowPrivateNetworks ? undefined : publicOnlyAgent();
    return {
      metrics: webhookMetrics(registry),
      secrets: secretsOf(config),
      publicOnly: agent,
      close: async () => {
        await agent?.close();
      },
    };
  },
  queues: [
    {
      contract: webhooks,
      handlers: ({ config, resources }) =>
        createHandlers({
          secrets: resources.secrets,
          timeoutMs: config.webhookTimeoutMs,
          publicOnly: resources.publicOnly,
          metrics: resources.metrics,
        }),
    },
  ],
  started: ({ config, logger, resources }) => {
    logger.info(
      {
        signing_keys: resources.secrets.size,
        timeout_ms: config.webhookTimeoutMs,
        private_networks: config.webhookAllowPrivateNetworks,
      },
      'delivering completion webhooks',
    );
    if (resources.secrets.size === 0) {
      logger.warn(
        'no API key has a webhookSecret (GATEWAY_API_KEYS or GATEWAY_API_KEYS_FILE): every delivery will fail for good',
      );
    }
    if (config.webhookAllowPrivateNetworks) {
      logger.warn(
        'WEBHOOK_ALLOW_PRIVATE_NETWORKS=true: webhooks may reach private, loopback and link-local addresses',
      );
    }
  },
});
