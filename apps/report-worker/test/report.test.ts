import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { emails, withOrigin } from '@jobfleet/queue-contracts';
import { createFilesystemReportStore } from '@jobfleet/report-store';
import { createLogger, createMetricsRegistry } from '@jobfleet/service-kit';
import { useTestRedis } from '@jobfleet/test-utils';
import { createWorkerRuntime, quantileFromBuckets, readUsage, utcDay } from '@jobfleet/worker-runtime';
import { Queue } from 'bullmq';
import { parse } from 'csv-parse/sync';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { CSV_COLUMNS } from '../src/render/csv.js';
import { roundSeconds } from '../src/report-model.js';
import { pdfToText, reportQueues, sample, scrape, seedUsage, type UsageSeed } from './helpers.js';
import { type InProcessWorker, startInProcessWorker } from './start-worker.js';

const redis = useTestRedis();
const cleanup: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step().catch(() => {});
});

async function startWorker(
  options: Partial<Parameters<typeof startInProcessWorker>[0]> = {},
): Promise<InProcessWorker> {
  const worker = await startInProcessWorker({ redisUrl: redis.url, prefix: redis.prefix, ...options });
  cleanup.push(() => worker.close());
  return worker;
}

// Recent days: the ledger keeps a day 40 days, so fixed dates would expire as the calendar moves on.
const DAY = utcDay(Date.now() - 3 * 86_400_000);
const AT = Date.parse(`${DAY}T12:00:00Z`);
const times = (n: number, seconds: number) => new Array<number>(n).fill(seconds);

/** A day of acme's usage, plus usage that must not show: another tenant's, and acme's of the next day. */
const SEEDS: UsageSeed[] = [
  {
    tenant: 'acme',
    queue: 'emails',
    jobName: 'welcome',
    outcome: 'completed',
    seconds: [...times(40, 0.02), ...times(17, 0.3)],
    at: AT,
  },
  { tenant: 'acme', queue: 'emails', jobName: 'welcome', outcome: 'retried', seconds: times(5, 1.5), at: AT },
  {
    tenant: 'acme',
    queue: 'emails',
    jobName: 'welcome',
    outcome: 'dead_lettered',
    seconds: times(2, 12),
    at: AT,
  },
  { tenant: 'acme', queue: 'emails', jobName: 'welcome', outcome: 'cancelled', seconds: [0.4], at: AT },
  {
    tenant: 'acme',
    queue: 'emails',
    jobName: 'password-reset',
    outcome: 'completed',
    seconds: times(9, 0.07),
    at: AT,
  },
  {
    tenant: 'acme',
    queue: 'reports',
    jobName: 'daily-report',
    outcome: 'completed',
    seconds: [4, 45, 200],
    at: AT,
  },
  {
    tenant: 'globex',
    queue: 'emails',
    jobName: 'welcome',
    outcome: 'completed',
    seconds: times(99, 0.01),
    at: AT,
  },
  {
    tenant: 'acme',
    queue: 'emails',
    jobName: 'welcome',
    outcome: 'completed',
    seconds: times(7, 0.01),
    at: AT + 86_400_000,
  },
];

const sha256 = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

describe('daily-report', () => {
  it('renders a CSV whose numbers equal the usage ledger’s, stores it, and reports progress 0→100', async () => {
    await seedUsage(redis, SEEDS);
    const worker = await startWorker();
    const { add, events, progressOf } = await reportQueues(redis, cleanup);
    let jobId: string | undefined;
    const progress = progressOf(() => jobId);
    const job = await add({ tenantId: 'acme', date: DAY, format: 'csv' });
    jobId = job.id;
    const result = await job.waitUntilFinished(events, 15_000);

    const file = await worker.resources.store.open('acme', job.id ?? '');
    const bytes = await readAll(file?.stream as Readable);
    expect(result).toEqual({
      path: `acme/${DAY}/${job.id}.csv`,
      bytes: bytes.length,
      sha256: sha256(bytes),
      contentType: 'text/csv; charset=utf-8',
      rows: 3,
    });
    expect(readFileSync(join(worker.reportsDir, 'acme', DAY, `${job.id}.csv`))).toEqual(bytes);

    const records = parse(bytes, { columns: true }) as Array<Record<string, string>>;
    expect(Object.keys(records[0] ?? {})).toEqual([...CSV_COLUMNS]);
    const ledger = await readUsage(redis.connection(), redis.prefix, 'acme', DAY);
    expect(records).toEqual(
      ledger.map((row) => ({
        queue: row.queue,
        job_name: row.jobName,
        completed: String(row.counts.completed),
        retried: String(row.counts.retried),
        dead_lettered: String(row.counts.dead_lettered),
        cancelled: String(row.counts.cancelled),
        // Three runs of daily-report: the ledger kept each run time, so the report shows them measured.
        ...(row.queue === 'reports'
          ? { p50_seconds: '45', p95_seconds: '200', durations: 'measured' }
          : {
              p50_seconds: String(roundSeconds(quantileFromBuckets(row.buckets, 0.5)) ?? ''),
              p95_seconds: String(roundSeconds(quantileFromBuckets(row.buckets, 0.95)) ?? ''),
              durations: 'estimated',
            }),
      })),
    );
    // And the seeded numbers themselves, not only what the ledger gives back.
    expect(
      records.map((r) => [r.queue, r.job_name, r.completed, r.retried, r.dead_lettered, r.cancelled]),
    ).toEqual([
      ['emails', 'password-reset', '9', '0', '0', '0'],
      ['emails', 'welcome', '57', '5', '2', '1'],
      ['reports', 'daily-report', '3', '0', '0', '0'],
    ]);

    expect(progress[0]).toBe(0);
    expect(progress.at(-1)).toBe(100);
    expect([...progress].sort((a, b) => a - b)).toEqual(progress);
    expect(progress.length).toBeGreaterThanOrEqual(3);
  });

  it('renders a PDF that pdftotext reads, with the tenant, the date and the totals', async () => {
    await seedUsage(redis, SEEDS);
    const worker = await startWorker();
    const { add, events } = await reportQueues(redis, cleanup);
    const job = await add({ tenantId: 'acme', date: DAY, format: 'pdf' });
    const result = await job.waitUntilFinished(events, 15_000);
    expect(result).toMatchObject({
      path: `acme/${DAY}/${job.id}.pdf`,
      contentType: 'application/pdf',
      rows: 3,
    });

    const file = await worker.resources.store.open('acme', job.id ?? '');
    const pdf = await readAll(file?.stream as Readable);
    expect(sha256(pdf)).toBe(result.sha256);
    const text = pdfToText(pdf);
    expect(text).toContain('Tenant: acme');
    expect(text).toContain(`Date: ${DAY}`);
    // Totals: 57+9+3 completed, 2 dead-lettered, 1 cancelled, 5 retried attempts.
    expect(text).toMatch(/Jobs finished\s+72\b/);
    expect(text).toMatch(/Completed\s+69\b/);
    expect(text).toMatch(/Dead-lettered\s+2\b/);
    expect(text).toMatch(/Cancelled\s+1\b/);
    expect(text).toMatch(/Retried attempts\s+5\b/);
    expect(text).toMatch(/Attempts\s+77\b/);
    expect(text).not.toContain('globex');

    const metrics = await scrape(worker.metricsUrl);
    expect(sample(metrics, 'jobfleet_report_render_duration_seconds_count{format="pdf"}')).toBe(1);
    expect(sample(metrics, 'jobfleet_report_size_bytes_sum{format="pdf"}')).toBe(result.bytes);
  });

  it('counts usage of real jobs run through a worker runtime under their tenant', async () => {
    // Jobs of tenant initech (their origin says so), one job without origin (tenant "default").
    const connection = redis.connection();
    const runtime = createWorkerRuntime({
      contract: emails,
      handlers: {
        welcome: async () => ({ messageId: '<w@x>', transport: 'outbox' as const }),
        'password-reset': async () => {
          throw new Error('smtp down');
        },
        notification: async () => ({ messageId: '<n@x>', transport: 'outbox' as const }),
      },
      connection,
      prefix: redis.prefix,
      logger: createLogger({ service: 'test', level: 'silent' }),
      registry: createMetricsRegistry(),
    });
    const emailsQueue = new Queue(emails.name, { connection: redis.connection(), prefix: redis.prefix });
    cleanup.push(() => emailsQueue.close());
    let finished = 0;
    const allDone = new Promise<void>((resolve) => {
      const done = () => {
        finished += 1;
        if (finished === 5) resolve();
      };
      runtime.worker.on('completed', done);
      runtime.worker.on('failed', (job) => {
        if (job?.finishedOn) done();
      });
    });
    const origin = { client: 'test-key', tenant: 'initech' };
    const options = {
      ...emails.defaultJobOptions,
      attempts: 2,
      backoff: { type: 'fixed' as const, delay: 10 },
    };
    await emailsQueue.add('welcome', { userId: 1, to: 'a@example.com' }, withOrigin(options, origin));
    await emailsQueue.add('welcome', { userId: 2, to: 'b@example.com' }, withOrigin(options, origin));
    await emailsQueue.add(
      'password-reset',
      { userId: 3, to: 'c@example.com', resetUrl: 'https://x.example/r' },
      withOrigin(options, origin),
    );
    await emailsQueue.add(
      'notification',
      { to: 'd@example.com', subject: 's', text: 't' },
      withOrigin(options, origin),
    );
    await emailsQueue.add('welcome', { userId: 5, to: 'e@example.com' }, options);
    await allDone;
    await runtime.close(); // flushes the ledger
    const day = utcDay(Date.now());

    const worker = await startWorker();
    const { add, events } = await reportQueues(redis, cleanup);
    const job = await add({ tenantId: 'initech', date: day });
    const result = await job.waitUntilFinished(events, 15_000);
    expect(result.rows).toBe(3);
    const file = await worker.resources.store.open('initech', job.id ?? '');
    const records = parse(await readAll(file?.stream as Readable), { columns: true }) as Array<
      Record<string, string>
    >;
    expect(
      records.map((r) => [r.queue, r.job_name, r.completed, r.retried, r.dead_lettered, r.cancelled]),
    ).toEqual([
      ['emails', 'notification', '1', '0', '0', '0'],
      ['emails', 'password-reset', '0', '1', '1', '0'],
      ['emails', 'welcome', '2', '0', '0', '0'],
    ]);
    for (const record of records) expect(Number(record.p50_seconds)).toBeGreaterThan(0);
    // At most two attempts per row: every run time was kept, so the quantiles are measured ones.
    expect(records.map((r) => r.durations)).toEqual(['measured', 'measured', 'measured']);
    const notification = records[0];
    expect(notification?.p95_seconds).toBe(notification?.p50_seconds);
  });

  it('covers yesterday in REPORT_TIMEZONE, reckoned from when the job became due, when no date is given', async () => {
    // Due at 02:00 UTC on day D: still D-1 in Los Angeles, so the report covers D-2.
    const due = Date.parse(`${utcDay(Date.now() - 2 * 86_400_000)}T02:00:00Z`);
    const expected = utcDay(due - 2 * 86_400_000);
    await seedUsage(redis, [
      {
        tenant: 'acme',
        queue: 'emails',
        jobName: 'welcome',
        outcome: 'completed',
        seconds: [0.1, 0.1],
        at: Date.parse(`${expected}T20:00:00Z`),
      },
    ]);
    const worker = await startWorker({ env: { REPORT_TIMEZONE: 'America/Los_Angeles' } });
    const { add, events } = await reportQueues(redis, cleanup);
    const job = await add({ tenantId: 'acme' }, { timestamp: due });
    const result = await job.waitUntilFinished(events, 15_000);
    expect(result).toMatchObject({ path: `acme/${expected}/${job.id}.csv`, rows: 1 });
    expect((await worker.resources.store.stat('acme', job.id ?? ''))?.date).toBe(expected);
  });

  it('refuses, for good, a job whose origin is another tenant than the report’s', async () => {
    const worker = await startWorker();
    const { add, deadLettered, events, queue } = await reportQueues(redis, cleanup);
    const job = await add(
      { tenantId: 'acme', date: DAY },
      withOrigin({}, { client: 'globex-key', tenant: 'globex' }),
    );
    const record = await deadLettered(job.id ?? '');
    expect(record.data.failedReason).toMatch(/tenant "globex" may not request the report of tenant "acme"/);
    const failed = await queue.getJob(job.id ?? '');
    expect(failed?.attemptsMade).toBe(1);
    expect(readdirSync(worker.reportsDir)).toEqual([]);

    // The same tenant, or a job without origin (an operator's, a schedule's): allowed.
    const own = await add(
      { tenantId: 'acme', date: DAY },
      withOrigin({}, { client: 'acme-key', tenant: 'acme' }),
    );
    expect((await own.waitUntilFinished(events, 15_000)).rows).toBe(0);
  });

  it('trims reports past REPORT_RETENTION_DAYS, at start and on its interval', async () => {
    const store = createFilesystemReportStore({ dir: mkdtempSync(join(tmpdir(), 'report-trim-')) });
    cleanup.push(async () => rmSync(store.location, { recursive: true, force: true }));
    const longAgo = new Date(Date.now() - 8 * 86_400_000);
    const putOld = async (jobId: string) => {
      const stored = await store.put(
        { tenant: 'acme', date: '2026-01-01', jobId, format: 'csv' },
        Buffer.from('old'),
      );
      utimesSync(join(store.location, stored.path), longAgo, longAgo);
      utimesSync(join(store.location, 'acme', '_jobs', `${jobId}.json`), longAgo, longAgo);
    };
    await putOld('old');
    await store.put({ tenant: 'acme', date: '2026-03-01', jobId: 'new', format: 'csv' }, Buffer.from('new'));

    const worker = await startWorker({
      reportsDir: store.location,
      env: { REPORT_RETENTION_DAYS: '7', REPORT_TRIM_INTERVAL_MS: '1000' },
    });
    // runNow waits for the trim at start: nothing is left for it, so that one removed the old report.
    expect(await worker.resources.retention.runNow()).toEqual({ removed: 0, leftovers: 0 });
    expect(await store.stat('acme', 'old')).toBeUndefined();
    expect((await store.stat('acme', 'new'))?.bytes).toBe(3);
    expect(sample(await scrape(worker.metricsUrl), 'jobfleet_reports_trimmed_total')).toBe(1);

    // A report that turns old while the worker runs goes at the next tick, with no runNow.
    await putOld('older');
    const removals = () => worker.logs.filter((line) => line.msg === 'old reports removed');
    await vi.waitFor(() => expect(removals()).toHaveLength(2), { timeout: 5_000, interval: 50 });
    expect(removals().map((line) => line.removed)).toEqual([1, 1]);
    expect(await store.stat('acme', 'older')).toBeUndefined();
    expect((await store.stat('acme', 'new'))?.bytes).toBe(3);
    const metrics = await scrape(worker.metricsUrl);
    expect(sample(metrics, 'jobfleet_reports_trimmed_total')).toBe(2);
  });
});
