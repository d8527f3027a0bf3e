import { randomUUID } from 'node:crypto';
import { emails } from '@jobfleet/queue-contracts';
import { promtoolCheckMetrics, useServiceProcesses, useTestRedis } from '@jobfleet/test-utils';
import { Queue, QueueEvents } from 'bullmq';
import { simpleParser } from 'mailparser';
import { afterEach, describe, expect, it } from 'vitest';
import { DELIVERY_FIELD, jobHashKey } from '../src/delivery-ledger.js';
import { startRedisGate } from './redis-gate.js';
import { startTestSmtpServer, type TestSmtpServerOptions } from './test-smtp-server.js';

/**
 * The real entrypoint, `node dist/main.js`, delivering over SMTP to a server
 * in this test process, against the test Redis on a prefix of each test's own.
 */

const redis = useTestRedis();
const cleanup: Array<() => unknown> = [];

afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});
// Registered after the hook above, so it runs first: workers still running are killed before the rest closes.
const processes = useServiceProcesses({ packageDir: new URL('..', import.meta.url), name: 'the worker' });
const spawnWorker = (env: Record<string, string>) => processes.spawn(env);

async function setup(server: TestSmtpServerOptions = {}) {
  const prefix = redis.prefix;
  const smtp = await startTestSmtpServer(server);
  cleanup.push(() => smtp.close());
  const queue = new Queue(emails.name, { connection: { url: redis.url }, prefix });
  const events = new QueueEvents(emails.name, { connection: { url: redis.url }, prefix });
  cleanup.push(
    () => queue.close(),
    () => events.close(),
  );
  await Promise.all([queue.waitUntilReady(), events.waitUntilReady()]);
  const env = {
    REDIS_URL: redis.url,
    JOBFLEET_PREFIX: prefix,
    HOST: '127.0.0.1',
    METRICS_PORT: '0',
    SMTP_URL: smtp.url,
    WORKER_LOCK_DURATION_MS: '1000',
    WORKER_STALLED_INTERVAL_MS: '1000',
  };
  const start = async (extra: Record<string, string> = {}) => {
    const worker = spawnWorker({ ...env, ...extra });
    const started = await worker.waitForLog((line) => line.msg === 'worker started');
    return { worker, metricsUrl: String(started.metrics) };
  };
  return { prefix, smtp, queue, events, start };
}

describe('email-worker process over SMTP', () => {
  it('killed with kill -9 after the server accepted a message and before the job completed: after a restart the job completes, and the server got exactly one message', async () => {
    // The gate freezes the first worker's Redis traffic right after its ledger write, the first thing it does
    // once the server's 250 arrives: the worker is then exactly between "accepted" and "job completed".
    const gate = await startRedisGate(redis.url);
    cleanup.push(() => gate.close());
    // Only the ledger's write carries the record's `deliveredAt`.
    const { smtp, queue, events, start } = await setup({ beforeAccept: () => gate.arm('"deliveredAt"') });
    const job = await queue.add(
      'welcome',
      { userId: 7, to: 'ada@example.com', name: 'Ada' },
      { ...emails.defaultJobOptions, jobId: `welcome-${randomUUID()}` },
    );
    const jobId = job.id ?? '';
    const key = jobHashKey(job);

    const admin = redis.connection();
    const first = await start({ REDIS_URL: gate.url });
    await gate.frozen;
    // The ledger write went through (Redis executes what the gate forwarded); the completion did not.
    for (
      const deadline = Date.now() + 5_000;
      !(await admin.hexists(key, DELIVERY_FIELD)) && Date.now() < deadline;
    ) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect(await admin.hexists(key, DELIVERY_FIELD), 'the delivery must be recorded before the kill').toBe(1);
    expect(smtp.messages).toHaveLength(1);
    expect(await job.getState(), 'the job must not have completed before the kill').toBe('active');

    first.worker.child.kill('SIGKILL');
    expect(await first.worker.exited).toEqual({ code: null, signal: 'SIGKILL' });
    expect(await job.getState()).toBe('active');

    const second = await start();
    const result = await job.waitUntilFinished(events, 20_000);
    expect(await (await queue.getJob(jobId))?.getState()).toBe('completed');
    expect(result).toEqual({ messageId: smtp.messages[0]?.messageId, transport: 'smtp' });
    await second.worker.waitForLog(
      (line) =>
        line.job_id === jobId &&
        line.msg === 'e-mail already delivered by an earlier attempt; not sending it again',
    );
    expect(smtp.transactions).toHaveLength(1);
    expect(smtp.messages).toHaveLength(1);
    const mail = await simpleParser(smtp.messages[0]?.raw ?? Buffer.alloc(0));
    expect(mail.messageId).toBe(`<emails.${jobId}.${job.timestamp}@jobfleet.local>`);
    expect(mail.subject).toBe('Welcome to jobfleet');

    second.worker.child.kill('SIGTERM');
    expect(await second.worker.exited).toEqual({ code: 0, signal: null });
  });

  it('says it delivers over SMTP (never the password), serves the e-mail metrics, and is ready', async () => {
    const { smtp, queue, events, start } = await setup({ auth: { user: 'mailer', pass: 'hunter2' } });
    const { worker, metricsUrl } = await start({
      SMTP_URL: smtp.url.replace('//', '//mailer:hunter2@'),
      EMAIL_RATE_LIMIT: '50',
    });
    expect(await worker.waitForLog((line) => line.msg === 'delivering e-mail over SMTP')).toMatchObject({
      transport: 'smtp',
      smtp: `smtp://mailer@127.0.0.1:${smtp.port}`,
      starttls: 'auto',
      rate_limit: 50,
    });
    const job = await queue.add(
      'notification',
      { to: 'ops@example.com', subject: 'Disk', text: 'Disk at 91%' },
      {
        ...emails.defaultJobOptions,
      },
    );
    await job.waitUntilFinished(events, 10_000);
    expect(smtp.messages.map((m) => m.user)).toEqual(['mailer']);

    // The handler counts the delivery before it returns, so before the job completes.
    const metrics = await (await fetch(metricsUrl)).text();
    expect(metrics).toContain('jobfleet_emails_sent_total{template="notification"} 1');
    expect(metrics).toContain('jobfleet_smtp_errors_total{class="reply_4xx"} 0');
    expect(metrics).toMatch(/^jobfleet_smtp_send_duration_seconds_bucket\{le="0.005",outcome="accepted"\} /m);
    expect(promtoolCheckMetrics(metrics)).toBe('');

    const ready = await fetch(metricsUrl.replace(/\/metrics$/, '/health/ready'));
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({
      checks: expect.arrayContaining([{ name: 'smtp', ok: true }]),
    });

    worker.child.kill('SIGTERM');
    expect(await worker.exited).toEqual({ code: 0, signal: null });
    expect(JSON.stringify(worker.logs) + worker.stderr()).not.toContain('hunter2');
  });

  it('refuses a bad SMTP_URL without printing it', async () => {
    const worker = spawnWorker({
      SMTP_URL: 'smtp://user:hunter2@mail.example/path',
      SMTP_MAX_CONNECTIONS: '0',
    });
    expect(await worker.exited).toEqual({ code: 1, signal: null });
    expect(worker.stderr()).toMatch(/\n {2}SMTP_URL: must not have a path/);
    expect(worker.stderr()).toMatch(/\n {2}SMTP_MAX_CONNECTIONS: /);
    expect(worker.stderr()).not.toContain('hunter2');
  });
});
