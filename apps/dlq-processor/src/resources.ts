import { DeadLetterStore, type ReconcileResult, type RetentionResult } from '@jobfleet/dead-letter-store';
import { catalog, type QueueContract } from '@jobfleet/queue-contracts';
import { activeTelemetry, type Logger, redactUrl } from '@jobfleet/service-kit';
import {
  type HandlerMap,
  type RunningWorker,
  runWorker,
  type WorkerResources,
} from '@jobfleet/worker-runtime';
import type { Worker } from 'bullmq';
import type { Registry } from 'prom-client';
import { AlertDelivery } from './alert-delivery.js';
import type { DlqProcessorConfig } from './config.js';
import { createIndexer } from './indexer.js';
import { deadLetterIntake } from './intake.js';
import { type DlqMetrics, dlqMetrics } from './metrics.js';
import { PeriodicTask } from './periodic.js';
import { type SpikeAlert, SpikeDetector } from './spike-alerts.js';

const DAY_MS = 86_400_000;

export interface StartDlqProcessorOptions {
  config: DlqProcessorConfig;
  /** Defaults to a pino logger at `LOG_LEVEL`. */
  logger?: Logger;
  /** Install SIGTERM/SIGINT handling (the entrypoint does; tests do not). */
  handleSignals?: boolean;
  /** The source queues to reconcile and redrive to; defaults to the catalog. */
  queues?: readonly QueueContract[];
}

export interface DlqProcessor {
  readonly store: DeadLetterStore;
  /** The worker runtime's BullMQ worker on `dead-letters`. */
  readonly worker: Worker;
  /** The runtime's core worker metrics and the DLQ's own, served together on `/metrics`. */
  readonly registry: Registry;
  readonly metrics: DlqMetrics;
  readonly logger: Logger;
  /** Where `/metrics` and `/health/*` answer. */
  readonly metricsUrl: string;
  /** The alert delivery, when `DLQ_ALERT_WEBHOOK_URL` is set. */
  readonly alerts: AlertDelivery | undefined;
  /** One reconciliation pass now (it also runs every `DLQ_RECONCILE_INTERVAL_MS`), counted in the metrics. */
  reconcile(): Promise<ReconcileResult>;
  /** One retention pass now (it also runs every `DLQ_RETENTION_INTERVAL_MS`), counted in the metrics. */
  applyRetention(): Promise<RetentionResult>;
  /**
   * Graceful stop: records in flight are indexed (within the shutdown timeout), then everything
   * closes. Resolves `true` when every record in flight finished in time.
   */
  close(): Promise<boolean>;
}

/** What the processor builds on the worker's resources: everything but the runtime's own parts. */
interface DlqServices {
  readonly store: DeadLetterStore;
  readonly metrics: DlqMetrics;
  readonly alerts: AlertDelivery | undefined;
  readonly handlers: HandlerMap<typeof deadLetterIntake>;
  readonly tasks: readonly PeriodicTask[];
  reconcile(): Promise<ReconcileResult>;
  applyRetention(): Promise<RetentionResult>;
  /** Stops the periodic tasks, then closes the alert delivery and the store (not the connection). */
  close(): Promise<void>;
}

function createDlqServices(
  resources: WorkerResources,
  config: DlqProcessorConfig,
  contracts: readonly QueueContract[],
): DlqServices {
  const { connection, prefix, logger, registry } = resources;
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

  const handlers: HandlerMap<typeof deadLetterIntake> = {
    'dead-letter': createIndexer({ store, metrics, spikes, logger, alert: raise }),
  };

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
    handlers,
    tasks,
    reconcile,
    applyRetention,
    async close() {
      await Promise.all(tasks.map((task) => task.stop()));
      await alerts?.close();
      await store.close();
    },
  };
}

/**
 * The DLQ processor: the worker runtime on the `dead-letters` queue, whose
 * handler indexes every record and watches for spikes, plus periodic
 * reconciliation and retention and the alert delivery. The runtime brings the
 * Redis connection, the core worker metrics, `/metrics` + `/health/*` on
 * `METRICS_PORT`, and graceful shutdown.
 *
 * Two runtime features are off: dead-lettering (this worker's own failures must
 * not feed the queue it consumes) and usage recording (indexing a record is not
 * work done for a tenant).
 */
export async function startDlqProcessor(options: StartDlqProcessorOptions): Promise<DlqProcessor> {
  const { config } = options;
  const contracts = options.queues ?? (Object.values(catalog) as QueueContract[]);
  // Set by the handler factory, which runWorker calls before it starts the worker.
  const built: { services?: DlqServices } = {};
  let running: RunningWorker;
  try {
    running = await runWorker({
      contract: deadLetterIntake,
      config,
      service: 'dlq-processor',
      ...(options.logger ? { logger: options.logger } : {}),
      handleSignals: options.handleSignals ?? false,
      deadLetterFailures: false,
      recordUsage: false,
      handlers: (resources) => {
        built.services = createDlqServices(resources, config, contracts);
        return built.services.handlers;
      },
      // After the worker stopped, before the connection closes.
      onClose: async () => built.services?.close(),
    });
  } catch (error) {
    // runWorker does not run onClose when it fails to start (e.g. the metrics port is taken).
    await built.services?.close();
    throw error;
  }
  const { services } = built;
  if (!services) {
    await running.close();
    throw new Error('runWorker started without building the handlers');
  }
  services.alerts?.start();
  for (const task of services.tasks) task.start();

  const { logger, metricsUrl } = running;
  logger.info(
    {
      redis: redactUrl(config.redisUrl),
      prefix: config.jobfleetPrefix,
      queues: contracts.map((c) => c.name),
      metrics: `${metricsUrl}/metrics`,
      alert_webhook: config.dlqAlertWebhookUrl ? new URL(config.dlqAlertWebhookUrl).host : null,
    },
    'dlq processor started',
  );
  return {
    store: services.store,
    worker: running.worker,
    registry: running.registry,
    metrics: services.metrics,
    logger,
    metricsUrl,
    alerts: services.alerts,
    reconcile: services.reconcile,
    applyRetention: services.applyRetention,
    close: running.close,
  };
}
