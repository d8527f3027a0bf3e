import {
  type CallbackReconcileResult,
  DeadLetterStore,
  type ReconcileResult,
  type RetentionResult,
} from '@jobfleet/dead-letter-store';
import { catalog, type DEAD_LETTER_JOB, type QueueContract } from '@jobfleet/queue-contracts';
import { activeTelemetry } from '@jobfleet/service-kit';
import type { HandlerMap, WorkerContext } from '@jobfleet/worker-runtime';
import { AlertDelivery } from './alert-delivery.js';
import type { DlqProcessorConfig } from './config.js';
import { createIndexer } from './indexer.js';
import type { deadLetterIntake } from './intake.js';
import { type DlqMetrics, dlqMetrics } from './metrics.js';
import { PeriodicTask } from './periodic.js';
import { type SpikeAlert, SpikeDetector } from './spike-alerts.js';

const DAY_MS = 86_400_000;

/**
 * What the DLQ processor builds on the worker's context: everything but the
 * runtime's own parts. Its periodic tasks and alert delivery start once the
 * worker runs (`start`), and stop with the resources, after the worker.
 */
export interface DlqResources {
  readonly store: DeadLetterStore;
  readonly metrics: DlqMetrics;
  /** The alert delivery, when `DLQ_ALERT_WEBHOOK_URL` is set. */
  readonly alerts: AlertDelivery | undefined;
  /** The handler of `dead-letter`: indexes a record and watches for spikes. */
  readonly index: HandlerMap<typeof deadLetterIntake>[typeof DEAD_LETTER_JOB];
  /** One reconciliation pass now (it also runs every `DLQ_RECONCILE_INTERVAL_MS`), counted in the metrics. */
  reconcile(): Promise<ReconcileResult>;
  /**
   * One pass over the completion webhooks the workers did not queue (it also
   * runs every `DLQ_RECONCILE_INTERVAL_MS`), counted in the metrics.
   */
  reconcileCallbacks(): Promise<CallbackReconcileResult>;
  /** One retention pass now (it also runs every `DLQ_RETENTION_INTERVAL_MS`), counted in the metrics. */
  applyRetention(): Promise<RetentionResult>;
  /** Starts the alert delivery and the periodic tasks. */
  start(): void;
  /** Stops the periodic tasks, then closes the alert delivery and the store (not the connection). */
  close(): Promise<void>;
}

/** The source queues the processor reconciles, redrives to and labels: the catalog. */
export const CATALOG_QUEUES: readonly QueueContract[] = Object.values(catalog);

/** Builds the processor's resources on the worker's context, for the source queues `contracts`. */
export function createDlqResources(
  context: WorkerContext<DlqProcessorConfig>,
  contracts: readonly QueueContract[] = CATALOG_QUEUES,
): DlqResources {
  const { config, connection, prefix, logger, registry } = context;
  const store = new DeadLetterStore({ connection, prefix, queues: contracts, telemetry: activeTelemetry() });
  const metrics = dlqMetrics({ registry, store, contracts, logger });
  const spikes = new SpikeDetector(store, {
    threshold: config.dlqAlertThreshold,
    windowMs: config.dlqAlertWindow,
    cooldownMs: config.dlqAlertCooldown,
  });
  const alerts = config.dlqAlertWebhookUrl
    ? new AlertDelivery({
        connection,
        prefix,
        url: config.dlqAlertWebhookUrl,
        attempts: config.dlqAlertAttempts,
        retryDelayMs: config.dlqAlertRetryDelayMs,
        timeoutMs: config.dlqAlertTimeoutMs,
        logger,
        metrics,
      })
    : undefined;

  const raise = async (alert: SpikeAlert) => {
    logger.warn(
      { queue: alert.queue, count: alert.count, threshold: alert.threshold, window_s: alert.windowSeconds },
      'dead-letter spike',
    );
    if (alerts) await alerts.enqueue(alert);
    else metrics.alerts.inc({ queue: alert.queue, outcome: 'unconfigured' });
  };

  const index = createIndexer({ store, metrics, spikes, logger, alert: raise });

  const reconcile = async () => {
    const result = await store.reconcile({
      batchSize: config.dlqReconcileBatchSize,
      maxBatches: config.dlqReconcileMaxBatches,
      overlapMs: config.dlqReconcileOverlapMs,
      settleMs: config.dlqReconcileSettleMs,
    });
    for (const [queue, found] of Object.entries(result.found)) {
      if (found === 0) continue;
      metrics.reconciled.inc({ queue }, found);
      logger.warn(
        { queue, found },
        'reconciliation wrote records of final failures the live path had missed',
      );
    }
    return result;
  };
  const reconcileCallbacks = async () => {
    const result = await store.reconcileCallbacks({
      batchSize: config.dlqReconcileBatchSize,
      settleMs: config.dlqReconcileSettleMs,
    });
    for (const [queue, queued] of Object.entries(result.queued)) {
      const lost = result.lost[queue] ?? 0;
      if (queued > 0) {
        metrics.webhooksReconciled.inc({ queue, outcome: 'queued' }, queued);
        logger.warn({ queue, queued }, 'reconciliation queued completion webhooks the workers had not');
      }
      if (lost > 0) {
        metrics.webhooksReconciled.inc({ queue, outcome: 'lost' }, lost);
        logger.error(
          { queue, lost },
          'jobs ended and were removed before their completion webhook was queued; those webhooks cannot be sent',
        );
      }
    }
    return result;
  };
  const applyRetention = async () => {
    const result = await store.trim({
      maxAgeMs: config.dlqRetentionDays * DAY_MS,
      maxRecords: config.dlqMaxRecords,
    });
    for (const [queue, { age, count }] of Object.entries(result.trimmed)) {
      if (age > 0) metrics.trimmed.inc({ queue, reason: 'age' }, age);
      if (count > 0) metrics.trimmed.inc({ queue, reason: 'count' }, count);
      logger.info({ queue, by_age: age, by_count: count }, 'retention trimmed dead-letter records');
    }
    return result;
  };
  const tasks = [
    new PeriodicTask(
      'reconciliation',
      config.dlqReconcileIntervalMs,
      async () => void (await reconcile()),
      logger,
    ),
    new PeriodicTask(
      'webhook reconciliation',
      config.dlqReconcileIntervalMs,
      async () => void (await reconcileCallbacks()),
      logger,
    ),
    new PeriodicTask(
      'retention',
      config.dlqRetentionIntervalMs,
      async () => void (await applyRetention()),
      logger,
    ),
  ];

  return {
    store,
    metrics,
    alerts,
    index,
    reconcile,
    reconcileCallbacks,
    applyRetention,
    start() {
      alerts?.start();
      for (const task of tasks) task.start();
    },
    async close() {
      await Promise.all(tasks.map((task) => task.stop()));
      await alerts?.close();
      await store.close();
    },
  };
}
