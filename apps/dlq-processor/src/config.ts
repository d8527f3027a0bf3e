import { type EnvVar, env } from '@jobfleet/service-kit';
import type { WorkerConfigOf } from '@jobfleet/worker-runtime';

const DAY_MS = 86_400_000;

/** An optional http(s) URL, a secret (webhook URLs carry their token); `undefined` when unset. */
function optionalWebhookUrl(docs: { doc: string; example: string }): EnvVar<string | undefined> {
  const url = env.url({ protocols: ['http:', 'https:'] });
  return { secret: true, ...docs, parse: (raw) => url.parse(raw), fallback: () => undefined };
}

/**
 * The DLQ processor's own environment keys; `defineWorker` adds those of every
 * worker (`REDIS_URL`, `METRICS_PORT` 9103, `WORKER_CONCURRENCY` — records
 * indexed at once, 10 —, the lock and stalled-check settings). The README
 * lists them with their defaults (`pnpm docs:config` writes its table).
 */
export const dlqConfig = {
  DLQ_RETENTION_DAYS: env.integer({
    default: 14,
    min: 1,
    max: 3_650,
    doc: 'Records older than this many days (by failure time) are trimmed.',
  }),
  DLQ_MAX_RECORDS: env.integer({
    default: 10_000,
    min: 1,
    max: 10_000_000,
    doc: 'Records kept per source queue; the oldest beyond it are trimmed.',
  }),
  DLQ_RETENTION_INTERVAL_MS: env.duration({
    default: 60_000,
    min: 10,
    max: DAY_MS,
    doc: 'How often retention runs (one processor at a time).',
  }),
  DLQ_RECONCILE_INTERVAL_MS: env.duration({
    default: 60_000,
    min: 10,
    max: DAY_MS,
    doc: "How often reconciliation reads the source queues' `failed` sets for missing records, and their pending sets for completion webhooks the workers did not queue.",
  }),
  DLQ_RECONCILE_BATCH_SIZE: env.integer({
    default: 500,
    min: 1,
    max: 10_000,
    doc: 'Failed jobs read per reconciliation step; also pending completion webhooks read per queue per pass.',
  }),
  DLQ_RECONCILE_MAX_BATCHES: env.integer({
    default: 20,
    min: 1,
    max: 10_000,
    doc: 'Steps per queue per pass; a backlog is worked off over several passes.',
  }),
  DLQ_RECONCILE_OVERLAP_MS: env.duration({
    default: 60_000,
    max: DAY_MS,
    doc: 'How far behind its cursor each pass re-reads, for clock skew between worker hosts.',
  }),
  DLQ_RECONCILE_SETTLE_MS: env.duration({
    default: 10_000,
    max: 3_600_000,
    doc: "Failures, and pending completion webhooks, younger than this are left to the workers' live path.",
  }),
  DLQ_ALERT_WEBHOOK_URL: optionalWebhookUrl({
    doc: 'Where spike alerts are POSTed (Slack-compatible JSON); unset: spikes are only logged and counted.',
    example: 'https://hooks.slack.com/services/<token>',
  }),
  DLQ_ALERT_THRESHOLD: env.integer({
    default: 10,
    min: 1,
    max: 10_000_000,
    doc: 'Dead letters of one source queue within the window that make a spike.',
  }),
  DLQ_ALERT_WINDOW: env.duration({
    default: 300_000,
    min: 1_000,
    max: DAY_MS,
    doc: 'The sliding window over failure times.',
  }),
  DLQ_ALERT_COOLDOWN: env.duration({
    default: 1_800_000,
    min: 1_000,
    max: 7 * DAY_MS,
    doc: 'After an alert, no other for the same queue for this long (shared by every processor).',
  }),
  DLQ_ALERT_ATTEMPTS: env.integer({
    default: 8,
    min: 1,
    max: 100,
    doc: 'Delivery attempts per alert (retried with exponential backoff).',
  }),
  DLQ_ALERT_RETRY_DELAY_MS: env.duration({
    default: 5_000,
    min: 10,
    max: 3_600_000,
    doc: "The first retry's delay; each next one doubles it.",
  }),
  DLQ_ALERT_TIMEOUT_MS: env.duration({
    default: 10_000,
    min: 100,
    max: 300_000,
    doc: 'How long one POST may take.',
  }),
};

/** The DLQ processor's whole configuration, loaded: every worker's keys and its own. */
export type DlqProcessorConfig = WorkerConfigOf<typeof dlqConfig>;
