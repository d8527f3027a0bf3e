import { useTestRedis } from '@jobfleet/test-utils';
import { afterEach, describe, expect, it } from 'vitest';
import { reportQueues, sample, scrape } from './helpers.js';
import { type InProcessWorker, startInProcessWorker } from './start-worker.js';

/**
 * The sandbox keeps the worker's main thread free: test fixtures stand in for
 * the sandbox module (passed in code, as no environment key can) with a
 * render that never ends and one that keeps a core busy for 3 s. The lock is
 * 1.5 s with stalled checks every second, so a main thread blocked by either
 * would lose its job's lock and the job would stall.
 */
const redis = useTestRedis();
const cleanup: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step().catch(() => {});
});

const fixture = (name: string) => new URL(`./fixtures/${name}`, import.meta.url);
const LOCK_ENV = { WORKER_LOCK_DURATION_MS: '1500', WORKER_STALLED_INTERVAL_MS: '1000' };

/** Scrapes `/metrics` back to back until stopped; every scrape must answer quickly. */
function pollMetrics(worker: InProcessWorker) {
  const latencies: number[] = [];
  const failures: string[] = [];
  let sawActive = false;
  let running = true;
  const loop = (async () => {
    while (running) {
      const started = performance.now();
      try {
        const response = await fetch(`${worker.metricsUrl}/metrics`, { signal: AbortSignal.timeout(2_000) });
        const text = await response.text();
        if (response.status !== 200) failures.push(`status ${response.status}`);
        if (sample(text, 'jobfleet_worker_active_jobs{queue="reports"}') === 1) sawActive = true;
      } catch (error) {
        failures.push(String(error));
      }
      latencies.push(performance.now() - started);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return { latencies, failures, sawActive };
    },
  };
}

async function setup(sandbox: string, env: Record<string, string>) {
  const worker = await startInProcessWorker({
    redisUrl: redis.url,
    prefix: redis.prefix,
    sandboxModule: fixture(sandbox),
    env: { ...LOCK_ENV, ...env },
  });
  cleanup.push(() => worker.close());
  const queues = await reportQueues(redis, cleanup);
  const stalled: string[] = [];
  queues.events.on('stalled', ({ jobId }) => stalled.push(jobId));
  return { worker, stalled, ...queues };
}

describe('a long report', () => {
  it('that would run forever is killed at REPORT_TIMEOUT_MS, retried, then dead-lettered; /metrics answers throughout', async () => {
    const { worker, add, deadLettered, queue, stalled } = await setup('hang-sandbox.mjs', {
      REPORT_TIMEOUT_MS: '1800',
    });
    const poller = pollMetrics(worker);
    const started = performance.now();
    const job = await add({ tenantId: 'acme', date: '2026-11-01', format: 'pdf' });
    const record = await deadLettered(job.id ?? '', 20_000);
    const elapsed = performance.now() - started;
    const { latencies, failures, sawActive } = await poller.stop();

    expect(record.data).toMatchObject({ jobId: job.id, attemptsMade: 3 });
    expect(record.data.failedReason).toMatch(/longer than 1800 ms; its sandbox was terminated/);
    const failed = await queue.getJob(job.id ?? '');
    expect(await failed?.getState()).toBe('failed');
    expect(failed?.attemptsMade).toBe(3);
    expect(failed?.attemptsStarted).toBe(3);
    expect(elapsed).toBeGreaterThanOrEqual(3 * 1800);

    expect(failures).toEqual([]);
    expect(sawActive).toBe(true);
    expect(latencies.length).toBeGreaterThan(elapsed / 1000);
    expect(Math.max(...latencies)).toBeLessThan(1_000);
    expect(stalled).toEqual([]);
    expect(worker.logs.filter((line) => /stalled/.test(String(line.msg)))).toEqual([]);

    const metrics = await scrape(worker.metricsUrl);
    expect(sample(metrics, 'jobfleet_report_render_failures_total{format="pdf",reason="timeout"}')).toBe(3);
    expect(
      sample(
        metrics,
        'jobfleet_jobs_processed_total{queue="reports",job_name="daily-report",outcome="retried"}',
      ),
    ).toBe(2);
    expect(
      sample(
        metrics,
        'jobfleet_jobs_processed_total{queue="reports",job_name="daily-report",outcome="dead_lettered"}',
      ),
    ).toBe(1);
    expect(sample(metrics, 'jobfleet_jobs_stalled_total{queue="reports"}') ?? 0).toBe(0);
    expect(await worker.resources.store.stat('acme', job.id ?? '')).toBeUndefined();
  }, 30_000);

  it('that keeps a core busy longer than the lock completes in one attempt, reporting progress, without a stall', async () => {
    const { worker, add, events, progressOf, stalled, queue } = await setup('slow-sandbox.mjs', {
      REPORT_TIMEOUT_MS: '20000',
    });
    const poller = pollMetrics(worker);
    let jobId: string | undefined;
    const progress = progressOf(() => jobId);
    const job = await add({ tenantId: 'acme', date: '2026-11-01', format: 'pdf' });
    jobId = job.id;
    const result = await job.waitUntilFinished(events, 20_000);
    const { latencies, failures, sawActive } = await poller.stop();

    expect(result.contentType).toBe('application/pdf');
    const done = await queue.getJob(job.id ?? '');
    expect(done?.attemptsStarted).toBe(1);
    expect(done?.attemptsMade).toBe(1);
    expect(stalled).toEqual([]);
    // Progress arrived while the sandbox was still busy (its spin reports 10–40 %), then reached 100.
    expect(progress.filter((p) => p > 5 && p < 50).length).toBeGreaterThanOrEqual(2);
    expect(progress.at(-1)).toBe(100);
    expect(failures).toEqual([]);
    expect(sawActive).toBe(true);
    expect(Math.max(...latencies)).toBeLessThan(1_000);
    const metrics = await scrape(worker.metricsUrl);
    expect(sample(metrics, 'jobfleet_jobs_stalled_total{queue="reports"}') ?? 0).toBe(0);
    expect(sample(metrics, 'jobfleet_report_render_duration_seconds_count{format="pdf"}')).toBe(1);
    expect(
      sample(metrics, 'jobfleet_report_render_duration_seconds_sum{format="pdf"}'),
    ).toBeGreaterThanOrEqual(3);
  }, 30_000);
});
