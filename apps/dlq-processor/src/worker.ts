import { DEAD_LETTER_JOB } from '@jobfleet/queue-contracts';
import { describeRedis, redisTopology } from '@jobfleet/service-kit';
import { defineWorker } from '@jobfleet/worker-runtime';
import { dlqConfig } from './config.js';
import { deadLetterIntake } from './intake.js';
import { CATALOG_QUEUES, createDlqResources } from './resources.js';

/**
 * The DLQ processor: a worker on the `dead-letters` queue, whose handler
 * indexes every record and watches for spikes, plus periodic reconciliation
 * and retention and the alert delivery (its resources).
 *
 * Two runtime features are off: dead-lettering (this worker's own failures must
 * not feed the queue it consumes) and usage recording (indexing a record is not
 * work done for a tenant). It knows the whole catalog, so `jobfleet_queue_info`
 * names the owner of every queue, not only of `dead-letters`.
 */
export const worker = defineWorker({
  service: 'dlq-processor',
  metricsPort: 9103,
  config: dlqConfig,
  resources: (context) => createDlqResources(context),
  queues: [
    {
      contract: deadLetterIntake,
      handlers: ({ resources }) => ({ [DEAD_LETTER_JOB]: resources.index }),
      deadLetterFailures: false,
      recordUsage: false,
    },
  ],
  knownQueues: CATALOG_QUEUES,
  started: ({ config, logger, metricsUrl, resources }) => {
    resources.start();
    logger.info(
      {
        redis: describeRedis(redisTopology(config)),
        prefix: config.jobfleetPrefix,
        queues: CATALOG_QUEUES.map((c) => c.name),
        metrics: `${metricsUrl}/metrics`,
        alert_webhook: config.dlqAlertWebhookUrl ? new URL(config.dlqAlertWebhookUrl).host : null,
      },
      'dlq processor started',
    );
  },
});
