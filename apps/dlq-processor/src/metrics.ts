import type { DeadLetterStore } from '@jobfleet/dead-letter-store';
import { type QueueContract, webhooks } from '@jobfleet/queue-contracts';
import { type Logger, withTimeout } from '@jobfleet/service-kit';
import { Counter, Gauge, type Registry } from 'prom-client';

export type AlertOutcome = 'sent' | 'failed' | 'unconfigured';
const ALERT_OUTCOMES: readonly AlertOutcome[] = ['sent', 'failed', 'unconfigured'];

export interface DlqMetrics {
  /** `jobfleet_dead_letters_total{queue,job_name}`: records captured (indexed for the first time). */
  captured: Counter<'queue' | 'job_name'>;
  /** `jobfleet_dead_letters{queue}`: records kept now, read from Redis at scrape time. */
  records: Gauge<'queue'>;
  /** `jobfleet_dead_letters_reconciled_total{queue}`: missing records reconciliation wrote. */
  reconciled: Counter<'queue'>;
  /**
   * `jobfleet_webhooks_reconciled_total{queue,outcome}`: completion webhooks the workers had not
   * queued: `queued` by reconciliation, or `lost` (the job was removed first).
   */
  webhooksReconciled: Counter<'queue' | 'outcome'>;
  /** `jobfleet_dead_letters_trimmed_total{queue,reason}`: records retention removed, by rule. */
  trimmed: Counter<'queue' | 'reason'>;
  /** `jobfleet_dlq_alerts_total{queue,outcome}`: spike alerts, by delivery outcome. */
  alerts: Counter<'queue' | 'outcome'>;
}

/** A scrape waits at most this long for Redis; then the last values are served. */
const SCRAPE_TIMEOUT_MS = 1_000;

/**
 * The DLQ processor's metrics. Every series of the contracts' queues and job
 * names starts at 0, so `increase()` sees the first dead letter too.
 */
export function dlqMetrics(options: {
  registry: Registry;
  store: DeadLetterStore;
  contracts: Iterable<QueueContract>;
  logger: Logger;
}): DlqMetrics {
  const { registry, store, logger } = options;
  const registers = [registry];
  // Overlapping scrapes share one read instead of each sending its own.
  let reading: Promise<Record<string, number>> | undefined;
  const readCounts = () => {
    reading ??= store.counts().finally(() => {
      reading = undefined;
    });
    return reading;
  };
  const metrics: DlqMetrics = {
    captured: new Counter({
      name: 'jobfleet_dead_letters_total',
      help: 'Dead-letter records captured, by source queue and job name.',
      labelNames: ['queue', 'job_name'],
      registers,
    }),
    records: new Gauge({
      name: 'jobfleet_dead_letters',
      help: 'Dead-letter records kept now, by source queue.',
      labelNames: ['queue'],
      registers,
      async collect() {
        try {
          // Not connected: commands would only queue up behind the reconnect, so do not send any.
          if (store.client.status !== 'ready') throw new Error(`redis is ${store.client.status}`);
          const counts = await withTimeout(readCounts(), SCRAPE_TIMEOUT_MS, 'reading the record counts');
          this.reset();
          for (const [queue, count] of Object.entries(counts)) this.set({ queue }, count);
        } catch (err) {
          logger.warn({ err }, 'could not read the record counts; serving the last ones');
        }
      },
    }),
    reconciled: new Counter({
      name: 'jobfleet_dead_letters_reconciled_total',
      help: 'Records of final failures the live path missed, written by reconciliation.',
      labelNames: ['queue'],
      registers,
    }),
    webhooksReconciled: new Counter({
      name: 'jobfleet_webhooks_reconciled_total',
      help: 'Completion webhooks the workers had not queued: queued by reconciliation, or lost (the job was removed first).',
      labelNames: ['queue', 'outcome'],
      registers,
    }),
    trimmed: new Counter({
      name: 'jobfleet_dead_letters_trimmed_total',
      help: 'Dead-letter records removed by retention, by rule (age or count).',
      labelNames: ['queue', 'reason'],
      registers,
    }),
    alerts: new Counter({
      name: 'jobfleet_dlq_alerts_total',
      help: 'Dead-letter spike alerts, by delivery outcome.',
      labelNames: ['queue', 'outcome'],
      registers,
    }),
  };
  for (const contract of options.contracts) {
    const queue = contract.name;
    for (const name of Object.keys(contract.jobs)) metrics.captured.inc({ queue, job_name: name }, 0);
    metrics.reconciled.inc({ queue }, 0);
    if (queue !== webhooks.name) {
      for (const outcome of ['queued', 'lost']) metrics.webhooksReconciled.inc({ queue, outcome }, 0);
    }
    for (const reason of ['age', 'count']) metrics.trimmed.inc({ queue, reason }, 0);
    for (const outcome of ALERT_OUTCOMES) metrics.alerts.inc({ queue, outcome }, 0);
  }
  return metrics;
}
