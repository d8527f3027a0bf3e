import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { reports } from '@jobfleet/queue-contracts';
import { promtoolCheckMetrics, useServiceProcesses, useTestRedis } from '@jobfleet/test-utils';
import { Queue, QueueEvents } from 'bullmq';
import { afterEach, describe, expect, it } from 'vitest';
import { pdfToText, sample, scrape } from './helpers.js';

/** The real entrypoint, `node dist/main.js`, with its default (built) sandbox. */
const redis = useTestRedis();
const cleanup: Array<() => unknown> = [];

afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});
// Registered after the hook above, so it runs first: workers still running are killed before the rest closes.
const processes = useServiceProcesses({ packageDir: new URL('..', import.meta.url), name: 'the worker' });
const spawnWorker = (env: Record<string, string>) => processes.spawn(env);

describe('report-worker process', () => {
  it('renders a PDF with its built sandbox, serves clean /metrics and /health/ready, exits 0 on SIGTERM', async () => {
    const reportsDir = mkdtempSync(join(tmpdir(), 'report-process-'));
    cleanup.push(() => rmSync(reportsDir, { recursive: true, force: true }));
    const prefix = redis.prefix;
    const worker = spawnWorker({
      REDIS_URL: redis.url,
      JOBFLEET_PREFIX: prefix,
      HOST: '127.0.0.1',
      METRICS_PORT: '0',
      REPORTS_DIR: reportsDir,
    });
    const started = await worker.waitForLog((line) => line.msg === 'worker started');
    const metricsUrl = String(started.metrics).replace(/\/metrics$/, '');
    expect(await worker.waitForLog((line) => line.msg === 'rendering reports')).toMatchObject({
      reports_dir: reportsDir,
      retention_days: 30,
    });

    const queue = new Queue(reports.name, { connection: { url: redis.url }, prefix });
    const events = new QueueEvents(reports.name, { connection: { url: redis.url }, prefix });
    cleanup.push(
      () => queue.close(),
      () => events.close(),
    );
    await events.waitUntilReady();
    const job = await queue.add(
      'daily-report',
      { tenantId: 'acme', date: '2026-11-01', format: 'pdf' },
      reports.defaultJobOptions,
    );
    const result = await job.waitUntilFinished(events, 20_000);
    expect(result.path).toBe(`acme/2026-11-01/${job.id}.pdf`);
    expect(pdfToText(readFileSync(join(reportsDir, result.path)))).toContain('Tenant: acme');

    const metrics = await scrape(metricsUrl);
    expect(sample(metrics, 'jobfleet_report_render_duration_seconds_count{format="pdf"}')).toBe(1);
    expect(sample(metrics, 'jobfleet_report_size_bytes_count{format="pdf"}')).toBe(1);
    expect(sample(metrics, 'jobfleet_report_render_failures_total{format="csv",reason="timeout"}')).toBe(0);
    // The owner of the queue it serves, for the alert rules' team label.
    expect(metrics).toContain('jobfleet_queue_info{queue="reports",team="reporting"} 1');
    expect(promtoolCheckMetrics(metrics)).toBe('');

    const ready = await fetch(`${metricsUrl}/health/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({
      checks: expect.arrayContaining([{ name: 'report-store', ok: true }]),
    });

    worker.child.kill('SIGTERM');
    expect(await worker.exited).toEqual({ code: 0, signal: null });
  });

  it('refuses a bad configuration with one message naming every bad key, and exit code 1', async () => {
    const worker = spawnWorker({
      REPORT_TIMEZONE: 'Nowhere/Else',
      METRICS_PORT: 'x',
      GATEWAY_PUBLIC_URL: 'mailto:a@b',
    });
    expect(await worker.exited).toEqual({ code: 1, signal: null });
    const stderr = worker.stderr();
    expect(stderr).toMatch(/^invalid configuration:/);
    for (const key of ['REPORT_TIMEZONE', 'METRICS_PORT', 'GATEWAY_PUBLIC_URL'])
      expect(stderr).toContain(`\n  ${key}: `);
  });
});
