import { type Logger, queuePrefix, type RedisClient } from '@jobfleet/service-kit';
import { type Job, Queue, UnrecoverableError, Worker } from 'bullmq';
import type { DlqMetrics } from './metrics.js';
import type { SpikeAlert } from './spike-alerts.js';

/**
 * The DLQ processor's own queue of alerts to deliver. An alert is a job, so a
 * webhook that is down, or a processor that dies mid-delivery, delays it
 * instead of losing it: BullMQ retries it with exponential backoff, and any
 * DLQ processor may deliver it.
 */
export const ALERT_QUEUE = 'dead-letter-alerts';

export interface AlertDeliveryOptions {
  connection: RedisClient;
  prefix: string;
  /** The webhook; a secret, never logged (only its host is). */
  url: string;
  attempts: number;
  retryDelayMs: number;
  timeoutMs: number;
  logger: Logger;
  metrics: DlqMetrics;
}

/** HTTP answers worth another try; any other 4xx means the request itself is wrong. */
const retryable = (status: number) => status >= 500 || status === 408 || status === 429;

/** POSTs one alert; throws to have BullMQ retry it, or `UnrecoverableError` when retrying cannot help. */
export async function postAlert(url: string, alert: SpikeAlert, timeoutMs: number): Promise<number> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'user-agent': 'jobfleet-dlq-processor' },
    body: JSON.stringify(alert),
    signal: AbortSignal.timeout(timeoutMs),
  });
  await response.body?.cancel();
  if (response.ok) return response.status;
  const message = `the alert webhook answered ${response.status}`;
  throw retryable(response.status) ? new Error(message) : new UnrecoverableError(message);
}

export class AlertDelivery {
  readonly queue: Queue<SpikeAlert>;
  readonly worker: Worker<SpikeAlert>;
  private readonly host: string;

  constructor(private readonly options: AlertDeliveryOptions) {
    const { connection, logger, metrics } = options;
    const prefix = queuePrefix(connection, options.prefix, ALERT_QUEUE);
    this.host = new URL(options.url).host;
    this.queue = new Queue<SpikeAlert>(ALERT_QUEUE, { connection, prefix });
    this.worker = new Worker<SpikeAlert>(
      ALERT_QUEUE,
      async (job: Job<SpikeAlert>) => postAlert(options.url, job.data, options.timeoutMs),
      // Started by `start()`, once the processor is up: a start that fails then has nothing to stop.
      { connection, prefix, concurrency: 1, autorun: false },
    );
    this.worker.on('completed', (job) => {
      metrics.alerts.inc({ queue: job.data.queue, outcome: 'sent' });
      logger.info(
        { queue: job.data.queue, webhook: this.host, attempts: job.attemptsMade + 1 },
        'dead-letter spike alert delivered',
      );
    });
    this.worker.on('failed', (job, err) => {
      if (!job) return;
      const log = { err, queue: job.data.queue, webhook: this.host, attempt: job.attemptsMade };
      if (!job.finishedOn) {
        logger.warn(log, 'could not deliver the spike alert; it will be retried');
        return;
      }
      metrics.alerts.inc({ queue: job.data.queue, outcome: 'failed' });
      logger.error(log, 'gave up delivering the spike alert');
    });
    this.worker.on('error', (err) => logger.error({ err }, 'alert delivery worker error'));
  }

  /** Starts delivering queued alerts (until `close`). */
  start(): void {
    this.worker.run().catch((err: unknown) => {
      this.options.logger.error({ err }, 'the alert delivery worker stopped');
    });
  }

  /** Queues an alert for delivery; its id makes a repeated enqueue of the same alert a no-op. */
  async enqueue(alert: SpikeAlert): Promise<void> {
    await this.queue.add('spike', alert, {
      jobId: `spike.${alert.queue}.${Date.parse(alert.firedAt)}`,
      attempts: this.options.attempts,
      backoff: { type: 'exponential', delay: this.options.retryDelayMs },
      removeOnComplete: { age: 7 * 86_400, count: 1_000 },
      removeOnFail: { age: 30 * 86_400, count: 1_000 },
    });
  }

  async close(): Promise<void> {
    await this.worker.close();
    await this.queue.close();
  }
}
