import { ConfigError } from '@jobfleet/service-kit';
import { describe, expect, it } from 'vitest';
import { worker } from '../src/worker.js';

describe('dlq-processor configuration', () => {
  it('has the documented defaults', () => {
    const config = worker.loadConfig({});
    expect(worker.concurrency(config)).toEqual({ 'dead-letters': 10 });
    expect(config).toMatchObject({
      metricsPort: 9103,
      workerConcurrency: undefined,
      dlqRetentionDays: 14,
      dlqMaxRecords: 10_000,
      dlqRetentionIntervalMs: 60_000,
      dlqReconcileIntervalMs: 60_000,
      dlqReconcileBatchSize: 500,
      dlqReconcileMaxBatches: 20,
      dlqReconcileOverlapMs: 60_000,
      dlqReconcileSettleMs: 10_000,
      dlqAlertWebhookUrl: undefined,
      dlqAlertThreshold: 10,
      dlqAlertWindow: 300_000,
      dlqAlertCooldown: 1_800_000,
      dlqAlertAttempts: 8,
      dlqAlertRetryDelayMs: 5_000,
      dlqAlertTimeoutMs: 10_000,
    });
  });

  it('reads durations with units, and names every bad key without echoing the webhook URL', () => {
    const config = worker.loadConfig({ DLQ_ALERT_WINDOW: '2m', DLQ_ALERT_COOLDOWN: '1h' });
    expect(config).toMatchObject({ dlqAlertWindow: 120_000, dlqAlertCooldown: 3_600_000 });
    let error: unknown;
    try {
      worker.loadConfig({
        DLQ_MAX_RECORDS: '0',
        DLQ_ALERT_WINDOW: '10',
        DLQ_ALERT_WEBHOOK_URL: 'mailto:ops@example.com?token=s3cret',
      });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const issues = (error as ConfigError).issues.join('\n');
    for (const key of ['DLQ_MAX_RECORDS', 'DLQ_ALERT_WINDOW', 'DLQ_ALERT_WEBHOOK_URL'])
      expect(issues).toContain(key);
    expect(issues).not.toContain('s3cret');
  });
});
