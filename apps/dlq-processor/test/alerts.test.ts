import { once } from 'node:events';
import { deadLetters, emails } from '@jobfleet/queue-contracts';
import { useTestRedis } from '@jobfleet/test-utils';
import { Queue } from 'bullmq';
import { afterEach, describe, expect, it } from 'vitest';
import { ALERT_QUEUE } from '../src/alert-delivery.js';
import type { SpikeAlert } from '../src/spike-alerts.js';
import {
  addWelcomes,
  type DlqProcessor,
  emailWorker,
  startProcessor,
  sumMetric,
  waitFor,
  webhookReceiver,
} from './helpers.js';

describe('spike alerts', () => {
  const redis = useTestRedis();
  const cleanup: Array<() => Promise<unknown>> = [];
  afterEach(async () => {
    for (const step of cleanup.splice(0).reverse()) await step().catch(() => {});
  });

  async function setup(env: Record<string, string>, statuses: number[] = []) {
    const receiver = await webhookReceiver(statuses);
    cleanup.push(() => receiver.close());
    const processor = await startProcessor(redis, {
      DLQ_ALERT_WEBHOOK_URL: receiver.url,
      DLQ_ALERT_THRESHOLD: '10',
      DLQ_ALERT_WINDOW: '1m',
      DLQ_ALERT_COOLDOWN: '10m',
      DLQ_ALERT_RETRY_DELAY_MS: '50',
      ...env,
    });
    cleanup.push(() => processor.close());
    const worker = await emailWorker(redis);
    cleanup.push(() => worker.close());
    const dlq = new Queue(deadLetters.name, { connection: redis.connection(), prefix: redis.prefix });
    const alerts = new Queue(ALERT_QUEUE, { connection: redis.connection(), prefix: redis.prefix });
    cleanup.push(
      () => dlq.close(),
      () => alerts.close(),
    );
    /** Resolves once `records` records are indexed and no record or alert is waiting, running or delayed. */
    const settled = (records: number) =>
      waitFor(async () => {
        if ((await processor.resources.store.count(emails.name)) !== records) return false;
        const pending = [
          ...Object.values(await dlq.getJobCounts('waiting', 'active', 'delayed')),
          ...Object.values(await alerts.getJobCounts('waiting', 'active', 'delayed')),
        ];
        return pending.every((n) => n === 0);
      }, `${records} records and no pending alert`);
    const sent = async (p: DlqProcessor, outcome: string) =>
      sumMetric(await p.registry.metrics(), 'jobfleet_dlq_alerts_total', `outcome="${outcome}"`);
    /**
     * Resolves once the alert worker has handled a delivered alert: the `sent` count is bumped by the
     * processor's own `completed` listener, registered first, so it runs before this one. Redis shows
     * the job completed a moment before that listener runs.
     */
    const alertHandled = () => {
      const worker = processor.resources.alerts?.worker;
      if (!worker) throw new Error('the processor has no alert delivery');
      return once(worker, 'completed');
    };
    return { receiver, processor, settled, sent, alerts, alertHandled };
  }

  it('12 failures within a minute: one POST with the text, the counts and sample reasons; 12 more inside the cooldown: none', async () => {
    const { receiver, processor, settled, sent, alertHandled } = await setup({});

    await addWelcomes(redis, 9);
    await settled(9);
    expect(receiver.requests).toHaveLength(0);

    const handled = alertHandled();
    await addWelcomes(redis, 3, 9);
    await receiver.waitForRequests(1);
    await handled;
    await settled(12);
    expect(receiver.requests).toEqual([{ method: 'POST', contentType: 'application/json' }]);
    const alert = receiver.bodies[0] as SpikeAlert;
    expect(alert).toMatchObject({
      queue: 'emails',
      threshold: 10,
      windowSeconds: 60,
      cooldownSeconds: 600,
      sampleReasons: ['always fails'],
    });
    expect(alert.count).toBeGreaterThanOrEqual(10);
    expect(alert.jobNames.welcome).toBeGreaterThanOrEqual(10);
    expect(alert.totalRecords).toBeGreaterThanOrEqual(10);
    expect(alert.sampleRecordIds.length).toBeGreaterThan(0);
    expect(alert.text).toContain('`emails`');
    expect(alert.text).toContain(`${alert.count} jobs`);
    expect(alert.text).toContain('always fails');
    expect(await sent(processor, 'sent')).toBe(1);

    await addWelcomes(redis, 12, 12);
    await settled(24);
    expect(receiver.requests).toHaveLength(1);
    expect(await sent(processor, 'sent')).toBe(1);
  });

  it('retries a failing webhook with backoff until it accepts the alert', async () => {
    const { receiver, processor, settled, sent, alerts, alertHandled } = await setup({}, [503, 500]);
    const handled = alertHandled();
    await addWelcomes(redis, 10);
    await receiver.waitForRequests(3);
    await handled;
    await settled(10);
    expect(receiver.requests).toHaveLength(3);
    expect(receiver.bodies[2]).toEqual(receiver.bodies[0]);
    expect(await sent(processor, 'sent')).toBe(1);
    expect(await sent(processor, 'failed')).toBe(0);
    const [delivered] = await alerts.getCompleted();
    expect(delivered?.attemptsMade).toBe(3);
  });

  it('gives up at once on an answer that retrying cannot change, and counts it', async () => {
    const { receiver, processor, settled, sent } = await setup({}, [404]);
    await addWelcomes(redis, 10);
    await receiver.waitForRequests(1);
    await settled(10);
    await waitFor(async () => (await sent(processor, 'failed')) === 1, 'the failure to be counted');
    expect(receiver.requests).toHaveLength(1);
    expect(await sent(processor, 'sent')).toBe(0);
  });
});
