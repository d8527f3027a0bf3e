import { once } from 'node:events';
import { DeadLetterStore } from '@jobfleet/dead-letter-store';
import {
  deadLetters,
  emails,
  pendingCallbacksKey,
  reports,
  webhookDeliveryId,
  webhooks,
  withCallback,
  withOrigin,
} from '@jobfleet/queue-contracts';
import {
  promtoolCheckMetrics,
  type ServiceProcess,
  useServiceProcesses,
  useTestRedis,
} from '@jobfleet/test-utils';
import { Queue, Worker } from 'bullmq';
import { afterEach, describe, expect, it } from 'vitest';
import { ALERT_QUEUE } from '../src/alert-delivery.js';
import { addWelcomes, emailWorker, sumMetric, testEnv, waitFor, webhookReceiver } from './helpers.js';

describe('dlq-processor processes', () => {
  const redis = useTestRedis();
  const cleanup: Array<() => Promise<unknown>> = [];
  afterEach(async () => {
    for (const step of cleanup.splice(0).reverse()) await step().catch(() => {});
  });
  // Registered after the hook above, so it runs first: processors still running are killed before the rest closes.
  const processes = useServiceProcesses({
    packageDir: new URL('..', import.meta.url),
    name: 'the DLQ processor',
  });

  async function start(env: Record<string, string>): Promise<{ proc: ServiceProcess; metricsUrl: string }> {
    const proc = processes.spawn({ ...testEnv(redis), LOG_LEVEL: 'info', ...env });
    const started = await proc.waitForLog((line) => line.msg === 'dlq processor started');
    return { proc, metricsUrl: String(started.metrics) };
  }

  it('two processors at once: one record per failure, counted once, and one alert per spiking queue', async () => {
    const receiver = await webhookReceiver();
    cleanup.push(() => receiver.close());
    const env = {
      DLQ_RECONCILE_INTERVAL_MS: '100',
      // The live path writes its records within milliseconds; reconciliation leaves it that long.
      DLQ_RECONCILE_SETTLE_MS: '2s',
      DLQ_ALERT_WEBHOOK_URL: receiver.url,
      DLQ_ALERT_THRESHOLD: '10',
      DLQ_ALERT_WINDOW: '1m',
      DLQ_ALERT_COOLDOWN: '10m',
    };
    const [a, b] = await Promise.all([start(env), start(env)]);

    // `emails`: 30 failures recorded live by the worker runtime.
    await addWelcomes(redis, 30);
    const worker = await emailWorker(redis);
    cleanup.push(() => worker.close());
    // `reports`: 30 failures of a plain BullMQ worker, which writes no record: reconciliation must find them.
    const reportsQueue = new Queue(reports.name, { connection: redis.connection(), prefix: redis.prefix });
    cleanup.push(() => reportsQueue.close());
    await reportsQueue.addBulk(
      Array.from({ length: 30 }, (_, i) => ({
        name: 'daily-report',
        data: { tenantId: `t${i}` },
        opts: { attempts: 1 },
      })),
    );
    const plain = new Worker(
      reports.name,
      async () => {
        throw new Error('renderer crashed');
      },
      { connection: redis.connection(), prefix: redis.prefix, concurrency: 10 },
    );
    cleanup.push(() => plain.close());

    const store = new DeadLetterStore({ connection: redis.connection(), prefix: redis.prefix });
    cleanup.push(() => store.close());
    await waitFor(
      async () => (await store.count(emails.name)) === 30 && (await store.count(reports.name)) === 30,
      '60 indexed records',
    );

    const dlq = new Queue(deadLetters.name, { connection: redis.connection(), prefix: redis.prefix });
    cleanup.push(() => dlq.close());
    const all = await dlq.getJobs(['waiting', 'active', 'completed', 'failed', 'delayed']);
    expect(all).toHaveLength(60);
    const perSourceJob = new Map<string, number>();
    for (const job of all) {
      const key = `${job.data.queue}/${job.data.jobId}`;
      perSourceJob.set(key, (perSourceJob.get(key) ?? 0) + 1);
    }
    expect(perSourceJob.size).toBe(60);

    // Both processors' counters together: each record captured once, each missing one reconciled once.
    const scrape = async () => Promise.all([a, b].map(async (p) => (await fetch(p.metricsUrl)).text()));
    const total = (texts: string[], name: string, labels = '') =>
      texts.reduce((sum, text) => sum + sumMetric(text, name, labels), 0);
    await waitFor(
      async () => total(await scrape(), 'jobfleet_dead_letters_total') === 60,
      'the capture counters to reach 60',
    );
    const texts = await scrape();
    expect(total(texts, 'jobfleet_dead_letters_total', 'queue="emails"')).toBe(30);
    expect(total(texts, 'jobfleet_dead_letters_reconciled_total', 'queue="reports"')).toBe(30);
    expect(total(texts, 'jobfleet_dead_letters_reconciled_total', 'queue="emails"')).toBe(0);
    for (const text of texts) {
      expect(promtoolCheckMetrics(text)).toBe('');
      // It knows the whole catalog: the owner of every queue, and of the one it serves.
      for (const [queue, team] of [
        ['emails', 'messaging'],
        ['reports', 'reporting'],
        ['dead-letters', 'platform'],
      ]) {
        expect(text).toContain(`jobfleet_queue_info{queue="${queue}",team="${team}"} 1`);
      }
      expect(sumMetric(text, 'jobfleet_dead_letters', 'queue="reports"')).toBe(30);
    }

    // The window and cooldown are shared: one alert per queue, whichever processor saw the tenth record.
    await receiver.waitForRequests(2);
    const alerts = new Queue(ALERT_QUEUE, { connection: redis.connection(), prefix: redis.prefix });
    cleanup.push(() => alerts.close());
    await waitFor(async () => {
      const pending = [
        ...Object.values(await alerts.getJobCounts('waiting', 'active', 'delayed')),
        ...Object.values(await dlq.getJobCounts('waiting', 'active')),
      ];
      return pending.every((n) => n === 0);
    }, 'every record and alert to be handled');
    expect(receiver.bodies.map((body) => (body as { queue: string }).queue).sort()).toEqual([
      'emails',
      'reports',
    ]);
    expect(total(await scrape(), 'jobfleet_dlq_alerts_total', 'outcome="sent"')).toBe(2);
    // The worker runtime's metrics of the real processes: between them, each record job completed once.
    const completed = 'queue="dead-letters",job_name="dead-letter",outcome="completed"';
    await waitFor(
      async () => total(await scrape(), 'jobfleet_jobs_processed_total', completed) >= 60,
      'the 60 record jobs to be counted',
    );
    expect(total(await scrape(), 'jobfleet_jobs_processed_total', completed)).toBe(60);

    // Graceful stop of both.
    a.proc.child.kill('SIGTERM');
    b.proc.child.kill('SIGTERM');
    expect(await a.proc.exited).toEqual({ code: 0, signal: null });
    expect(await b.proc.exited).toEqual({ code: 0, signal: null });
  }, 60_000);

  it('queues a completion webhook a worker left pending, and counts it', async () => {
    // What a jobfleet worker that died right after BullMQ completed the job leaves: the job completed
    // (here by a plain BullMQ worker, which announces nothing) and its pending entry.
    const queue = new Queue(emails.name, { connection: redis.connection(), prefix: redis.prefix });
    cleanup.push(() => queue.close());
    const opts = withOrigin(withCallback({ attempts: 1 }, { url: 'https://example.com/hooks' }), {
      client: 'signup-service',
    });
    const job = await queue.add('welcome', { userId: 1, to: 'ada@example.com' }, opts);
    const plain = new Worker(emails.name, async () => ({ messageId: '<1@example.com>' }), {
      connection: redis.connection(),
      prefix: redis.prefix,
    });
    cleanup.push(() => plain.close());
    await once(plain, 'completed');
    await plain.close();
    await redis.connection().zadd(pendingCallbacksKey(redis.prefix, emails.name), 1, String(job.id));

    const { metricsUrl } = await start({ DLQ_RECONCILE_INTERVAL_MS: '100', DLQ_RECONCILE_SETTLE_MS: '0' });
    const deliveries = new Queue(webhooks.name, { connection: redis.connection(), prefix: redis.prefix });
    cleanup.push(() => deliveries.close());
    const deliveryId = webhookDeliveryId(emails.name, String(job.id), 'job.completed');
    // Counted once the pass that queued it ends.
    const queued = 'queue="emails",outcome="queued"';
    await waitFor(
      async () =>
        sumMetric(await (await fetch(metricsUrl)).text(), 'jobfleet_webhooks_reconciled_total', queued) === 1,
      'the delivery to be queued and counted',
    );
    expect((await deliveries.getJob(deliveryId))?.data).toMatchObject({
      url: 'https://example.com/hooks',
      event: { type: 'job.completed', data: { id: job.id, result: { messageId: '<1@example.com>' } } },
    });
    const text = await (await fetch(metricsUrl)).text();
    expect(promtoolCheckMetrics(text)).toBe('');
    expect(sumMetric(text, 'jobfleet_webhooks_reconciled_total', queued)).toBe(1);
    expect(sumMetric(text, 'jobfleet_webhooks_reconciled_total', 'outcome="lost"')).toBe(0);
    expect(await redis.connection().zcard(pendingCallbacksKey(redis.prefix, emails.name))).toBe(0);
  });

  it('answers /health/ready, and refuses a bad configuration naming every bad key', async () => {
    const { proc, metricsUrl } = await start({});
    // Readiness follows the Redis connection and the worker, which come up just after the log line.
    const readyUrl = metricsUrl.replace(/\/metrics$/, '/health/ready');
    await waitFor(async () => (await fetch(readyUrl)).status === 200, 'readiness');
    const ready = await fetch(readyUrl);
    expect(await ready.json()).toMatchObject({
      status: 'ok',
      checks: [
        { name: 'redis', ok: true },
        { name: 'worker', ok: true },
      ],
    });
    proc.child.kill('SIGTERM');
    expect(await proc.exited).toEqual({ code: 0, signal: null });

    const bad = processes.spawn({
      DLQ_ALERT_THRESHOLD: '0',
      DLQ_ALERT_WEBHOOK_URL: 'ftp://hooks.example/secret-token',
      DLQ_RETENTION_DAYS: 'two weeks',
    });
    expect(await bad.exited).toEqual({ code: 1, signal: null });
    const stderr = bad.stderr();
    expect(stderr).toMatch(/^invalid configuration:/);
    for (const key of ['DLQ_ALERT_THRESHOLD', 'DLQ_ALERT_WEBHOOK_URL', 'DLQ_RETENTION_DAYS']) {
      expect(stderr).toContain(`\n  ${key}: `);
    }
    expect(stderr).not.toContain('secret-token');
  });
});
