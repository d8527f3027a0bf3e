import { DeadLetterStore, type ReconcileResult, type RetentionResult } from '@jobfleet/dead-letter-store';
import { catalog, deadLetters, type QueueContract } from '@jobfleet/queue-contracts';
import {
  createLogger,
  createMetricsRegistry,
  createRedisConnection,
  handleShutdown,
  type Logger,
  observabilityPlugin,
  type ReadinessCheck,
  redactUrl,
  redisReadinessCheck,
} from '@jobfleet/service-kit';
import { Worker } from 'bullmq';
import Fastify from 'fastify';
import type { Registry } from 'prom-client';
import { AlertDelivery } from './alert-delivery.js';
import type { DlqProcessorConfig } from './config.js';
import { createIndexer, type IndexResult } from './indexer.js';
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
  readonly worker: Worker;
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
  /** Graceful stop: records in flight are indexed (within the shutdown timeout), then everything closes. */
  close(): Promise<void>;
}

/**
 * The DLQ processor: a BullMQ worker on the `dead-letters` queue that indexes
 * every record and watches for spikes, periodic reconciliation and retention,
 * alert delivery, and `/metrics` + `/health/*` on `METRICS_PORT`.
 *
 * It is a plain BullMQ worker, not the worker runtime: the runtime would
 * dead-letter its own failures into the queue it consumes.
 */
export async function startDlqProcessor(options: StartDlqProcessorOptions): Promise<DlqProcessor> {
  const { config } = options;
  const logger =
    options.logger ?? createLogger({ service: 'dlq-processor', level: config.logLevel as 'info' });
  const registry = createMetricsRegistry();
  const connection = createRedisConnection({
    url: config.redisUrl,
    flavour: 'worker',
    name: 'dlq-processor',
    logger,
  });
  const contracts = options.queues ?? (Object.values(catalog) as QueueContract[]);
  const store = new DeadLetterStore({ connection, prefix: config.jobfleetPrefix, queues: contracts });
  const metrics = dlqMetrics({ registry, store, contracts, logger });
  const spikes = new SpikeDetector(store, {
    threshold: config.dlqAlertThreshold,
    windowMs: config.dlqAlertWindow,
    cooldownMs: config.dlqAlertCooldown,
  });
  const alerts = config.dlqAlertWebhookUrl
    ? new AlertDelivery({
        connection,
        prefix: config.jobfleetPrefix,
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

  const worker = new Worker(
    deadLetters.name,
    createIndexer({ store, metrics, spikes, logger, alert: raise }),
    {
      connection,
      prefix: config.jobfleetPrefix,
      concurrency: config.workerConcurrency,
      lockDuration: config.workerLockDurationMs,
      stalledInterval: config.workerStalledIntervalMs,
      maxStalledCount: config.workerMaxStalledCount,
      // No removeOnComplete/removeOnFail here: BullMQ then keeps records (the store's retention removes them).
    },
  );
  worker.on('completed', (job, result: IndexResult) => {
    // Removed while it was being indexed: now that it is no longer locked, its job can go too.
    if (result?.outcome === 'tombstoned') {
      job
        .remove()
        .catch((err: unknown) =>
          logger.warn({ err, dead_letter_id: job.id }, 'could not delete a removed record'),
        );
    }
  });
  worker.on('failed', (job, err) => {
    logger.error(
      { err, dead_letter_id: job?.id, final: Boolean(job?.finishedOn) },
      'could not index a record',
    );
  });
  worker.on('error', (err) => logger.error({ err }, 'dead-letters worker error'));

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

  const redisCheck = redisReadinessCheck(connection, logger);
  const workerCheck: ReadinessCheck = {
    name: 'worker',
    check: async () =>
      worker.isRunning() ? { ok: true } : { ok: false, reason: 'the worker is not running' },
  };
  const server = Fastify({ loggerInstance: logger.child({ component: 'http' }) });
  let metricsUrl: string;
  try {
    await server.register(observabilityPlugin, {
      registry,
      checks: [redisCheck, workerCheck],
      metricsToken: config.metricsToken,
    });
    await server.listen({ port: config.metricsPort, host: config.host });
    const address = server.server.address();
    metricsUrl =
      address && typeof address === 'object' ? `http://127.0.0.1:${address.port}` : `http://${config.host}`;
  } catch (error) {
    await Promise.allSettled([worker.close(true), alerts?.close(), store.close(), server.close()]);
    connection.disconnect();
    throw error;
  }
  for (const task of tasks) task.start();

  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      await Promise.all(tasks.map((task) => task.stop()));
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<false>((resolve) => {
        timer = setTimeout(() => resolve(false), config.shutdownTimeoutMs);
      });
      const finished = await Promise.race([worker.close().then(() => true as const), deadline]);
      clearTimeout(timer);
      // A record still being indexed at the deadline is indexed again by whichever processor picks it up.
      if (!finished) logger.warn('records still being indexed at the shutdown deadline');
      await alerts?.close();
      await store.close();
      await server.close();
      await connection.quit().catch(() => connection.disconnect());
    })();
    return closing;
  };

  if (options.handleSignals ?? false) {
    handleShutdown({ logger, hardTimeoutMs: config.shutdownTimeoutMs + 10_000, close });
  }

  connection.once('ready', () => void redisCheck.check());
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
    store,
    worker,
    registry,
    metrics,
    logger,
    metricsUrl,
    alerts,
    reconcile,
    applyRetention,
    close,
  };
}
