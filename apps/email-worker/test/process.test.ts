import { randomUUID } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { emails } from '@jobfleet/queue-contracts';
import { promtoolCheckMetrics, useServiceProcesses, useTestRedis } from '@jobfleet/test-utils';
import { Queue, QueueEvents } from 'bullmq';
import { simpleParser } from 'mailparser';
import { afterEach, describe, expect, it } from 'vitest';

/**
 * The real entrypoint, `node dist/main.js`, as separate processes against the
 * test Redis, on a prefix of each test's own. Determinism: the workers run with
 * `EMAIL_SEND_DELAY_MS` (a documented config key) so a job stays in flight for
 * 1.5 s after its `active` event — far longer than the event takes to arrive —
 * and every test checks that premise (nothing in the outbox yet; the shutdown
 * logged before the delivery) instead of assuming it.
 */

const SEND_DELAY_MS = '1500';

const redis = useTestRedis();
const cleanup: Array<() => unknown> = [];

afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});
// Registered after the hook above, so it runs first: workers still running are killed before the rest closes.
const processes = useServiceProcesses({ packageDir: new URL('..', import.meta.url), name: 'the worker' });
const spawnWorker = (env: Record<string, string>) => processes.spawn(env);

async function setup() {
  const prefix = redis.prefix;
  const outboxDir = mkdtempSync(join(tmpdir(), 'email-process-'));
  cleanup.push(() => rmSync(outboxDir, { recursive: true, force: true }));
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
    EMAIL_OUTBOX_DIR: outboxDir,
    WORKER_LOCK_DURATION_MS: '1000',
    WORKER_STALLED_INTERVAL_MS: '1000',
  };
  const start = async (extra: Record<string, string> = {}) => {
    const worker = spawnWorker({ ...env, ...extra });
    const started = await worker.waitForLog((line) => line.msg === 'worker started');
    return { worker, metricsUrl: String(started.metrics) };
  };
  /** Adds a welcome job; `active` resolves when a worker has taken it. */
  const addWelcome = async () => {
    const jobId = `welcome-${randomUUID()}`;
    const active = new Promise<void>((resolve) => {
      const onActive = ({ jobId: id }: { jobId: string }) => {
        if (id !== jobId) return;
        events.off('active', onActive);
        resolve();
      };
      events.on('active', onActive);
    });
    const job = await queue.add(
      'welcome',
      { userId: 123, to: 'ada@example.com', name: 'Ada' },
      { ...emails.defaultJobOptions, jobId },
    );
    return { job, active };
  };
  const emlFiles = () => readdirSync(outboxDir).filter((name) => name.endsWith('.eml'));
  return { queue, events, outboxDir, start, addWelcome, emlFiles };
}

describe('email-worker process', () => {
  it('on SIGTERM lets the running job finish, then exits 0', async () => {
    const { queue, start, addWelcome, emlFiles } = await setup();
    const { worker } = await start({ EMAIL_SEND_DELAY_MS: SEND_DELAY_MS });
    const { job, active } = await addWelcome();
    await active;
    expect(emlFiles(), 'the job must still be running when SIGTERM is sent').toEqual([]);

    worker.child.kill('SIGTERM');
    expect(await worker.exited).toEqual({ code: 0, signal: null });

    const finished = await queue.getJob(job.id ?? '');
    expect(await finished?.getState()).toBe('completed');
    expect(finished?.returnvalue).toMatchObject({ transport: 'outbox' });
    expect(emlFiles()).toEqual([`${String(finished?.returnvalue.messageId).slice(1, -1)}.eml`]);
    // The order in the log proves the job was in flight when the shutdown began.
    const at = (match: (line: (typeof worker.logs)[number]) => boolean) => worker.logs.findIndex(match);
    const shuttingDown = at((line) => line.msg === 'shutting down' && line.signal === 'SIGTERM');
    const delivered = at((line) => line.msg === 'e-mail delivered' && line.job_id === job.id);
    const complete = at((line) => line.msg === 'shutdown complete');
    expect(shuttingDown).toBeGreaterThanOrEqual(0);
    expect(delivered).toBeGreaterThan(shuttingDown);
    expect(complete).toBeGreaterThan(delivered);
  });

  it('after kill -9 mid-job, a new process recovers the job: it completes with exactly one .eml', async () => {
    const { queue, events, outboxDir, start, addWelcome, emlFiles } = await setup();
    const first = await start({ EMAIL_SEND_DELAY_MS: SEND_DELAY_MS });
    const { job, active } = await addWelcome();
    await active;
    first.worker.child.kill('SIGKILL');
    expect(await first.worker.exited).toEqual({ code: null, signal: 'SIGKILL' });
    expect(await job.getState(), 'the job must have been in flight when the worker died').toBe('active');
    expect(emlFiles()).toEqual([]);

    const second = await start();
    const result = await job.waitUntilFinished(events, 15_000);
    expect(result).toMatchObject({ transport: 'outbox' });
    await second.worker.waitForLog((line) => line.job_id === job.id && /stalled/.test(line.msg ?? ''));
    expect(await (await queue.getJob(job.id ?? ''))?.getState()).toBe('completed');

    const files = emlFiles();
    expect(files).toEqual([`${result.messageId.slice(1, -1)}.eml`]);
    const mail = await simpleParser(readFileSync(join(outboxDir, files[0] ?? '')));
    expect(mail.messageId).toBe(result.messageId);
    expect(mail.subject).toBe('Welcome to jobfleet');

    second.worker.child.kill('SIGTERM');
    expect(await second.worker.exited).toEqual({ code: 0, signal: null });
  });

  it('serves /metrics that promtool accepts and /health/ready with the outbox check', async () => {
    const { events, start, addWelcome } = await setup();
    const { worker, metricsUrl } = await start();
    const { job } = await addWelcome();
    await job.waitUntilFinished(events, 10_000);

    // The worker counts the completion as it acknowledges it; poll until the scrape shows it.
    let metrics = '';
    for (const deadline = Date.now() + 5_000; Date.now() < deadline; ) {
      metrics = await (await fetch(metricsUrl)).text();
      if (metrics.includes('outcome="completed"} 1')) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(metrics).toContain(
      'jobfleet_jobs_processed_total{queue="emails",job_name="welcome",outcome="completed"} 1',
    );
    expect(metrics).toMatch(/^jobfleet_job_duration_seconds_bucket\{/m);
    expect(metrics).toMatch(/^process_cpu_seconds_total /m);
    // The owner of the queue it serves, for the alert rules' team label.
    expect(metrics).toContain('jobfleet_queue_info{queue="emails",team="messaging"} 1');

    expect(promtoolCheckMetrics(metrics)).toBe('');

    const ready = await fetch(metricsUrl.replace(/\/metrics$/, '/health/ready'));
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({
      status: 'ok',
      checks: expect.arrayContaining([{ name: 'outbox', ok: true }]),
    });

    worker.child.kill('SIGTERM');
    expect(await worker.exited).toEqual({ code: 0, signal: null });
  });

  it('refuses a bad configuration with one message naming every bad key, and exit code 1', async () => {
    const worker = spawnWorker({ EMAIL_FROM: 'nobody', METRICS_PORT: 'http', APP_URL: 'ftp://x.example' });
    expect(await worker.exited).toEqual({ code: 1, signal: null });
    const stderr = worker.stderr();
    expect(stderr).toMatch(/^invalid configuration:/);
    for (const key of ['EMAIL_FROM', 'METRICS_PORT', 'APP_URL']) expect(stderr).toContain(`\n  ${key}: `);
    expect(stderr).not.toMatch(/\n\s+at /); // no stack trace
    expect(worker.logs).toEqual([]);
  });
});
