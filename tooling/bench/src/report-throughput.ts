import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { reports } from '@jobfleet/queue-contracts';
import { createLogger } from '@jobfleet/service-kit';
import { type ServiceProcess, spawnService } from '@jobfleet/test-utils';
import { USAGE_BUCKETS, UsageLedger, usageKey } from '@jobfleet/worker-runtime';
import { Queue, QueueEvents } from 'bullmq';
import { cpuSeconds } from './process-cpu.js';
import type { RedisTarget } from './redis-target.js';
import { median } from './stats.js';

/** The report worker's built entrypoint: the bench runs the real process, sandbox and all. */
const REPORT_WORKER_MAIN = fileURLToPath(
  new URL('../../../apps/report-worker/dist/main.js', import.meta.url),
);
const TENANT = 'bench';
const DAY = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);

/** A synthetic day: `rows` queue/job rows with every outcome and spread run times, so the PDF runs to pages. */
async function seed(target: RedisTarget, prefix: string, rows: number): Promise<void> {
  const connection = target.connect('worker');
  const ledger = new UsageLedger({
    connection,
    prefix,
    logger: createLogger({ service: 'bench', level: 'silent' }),
    retentionDays: 2,
    flushMs: 60_000,
  });
  const at = Date.parse(`${DAY}T12:00:00Z`);
  for (let i = 0; i < rows; i++) {
    const queue = `queue-${String(i % 40).padStart(2, '0')}`;
    const job = `job-${i}`;
    for (let k = 0; k < 5; k++)
      ledger.record(TENANT, queue, job, 'completed', (USAGE_BUCKETS[(i + k) % 12] ?? 1) * 0.9, at);
    if (i % 3 === 0) ledger.record(TENANT, queue, job, 'retried', 2, at);
    if (i % 7 === 0) ledger.record(TENANT, queue, job, 'dead_lettered', 4, at);
  }
  await ledger.close();
  connection.disconnect();
}

async function deleteUsage(target: RedisTarget, prefix: string): Promise<void> {
  const connection = target.connect('worker');
  await connection.del(usageKey(prefix, TENANT, DAY));
  connection.disconnect();
}

/** Starts `node apps/report-worker/dist/main.js`; resolves once it logs that it started. */
async function startWorker(env: Record<string, string>): Promise<ServiceProcess> {
  const worker = spawnService({
    main: REPORT_WORKER_MAIN,
    cwd: process.cwd(),
    env,
    name: 'the report worker',
  });
  // Its errors show as they happen, as before; spawnService keeps a copy for its own messages.
  worker.child.stderr?.pipe(process.stderr, { end: false });
  await worker
    .waitForLog((line) => line.msg === 'worker started', 60_000)
    .catch((error: unknown) => {
      worker.child.kill('SIGKILL');
      throw error;
    });
  return worker;
}

interface Measurement {
  ms: number;
  /** The worker's CPU seconds over the wall-clock seconds: how many cores it kept busy. */
  cores: number | undefined;
}

/** Time for `count` PDF reports of the seeded day, from adding them to the last completion. */
async function measure(
  target: RedisTarget,
  concurrency: number,
  rows: number,
  count: number,
): Promise<Measurement> {
  const prefix = `bench-report-${randomUUID().slice(0, 8)}`;
  const reportsDir = mkdtempSync(join(tmpdir(), 'bench-reports-'));
  await seed(target, prefix, rows);
  const worker = await startWorker({
    ...target.env,
    JOBFLEET_PREFIX: prefix,
    HOST: '127.0.0.1',
    METRICS_PORT: '0',
    REPORTS_DIR: reportsDir,
    WORKER_CONCURRENCY: String(concurrency),
    LOG_LEVEL: 'info',
  });
  // Each its own connection, as `connection: { url }` gave them: QueueEvents blocks on its reads.
  const queueConnection = target.connect('worker');
  const eventsConnection = target.connect('worker');
  const reportsPrefix = target.prefix(queueConnection, prefix, reports.name);
  const queue = new Queue(reports.name, { connection: queueConnection, prefix: reportsPrefix });
  const events = new QueueEvents(reports.name, { connection: eventsConnection, prefix: reportsPrefix });
  try {
    await events.waitUntilReady();
    const cpuBefore = cpuSeconds(worker.child.pid);
    const started = performance.now();
    const jobs = await queue.addBulk(
      Array.from({ length: count }, () => ({
        name: 'daily-report' as const,
        data: { tenantId: TENANT, date: DAY, format: 'pdf' as const },
        opts: reports.defaultJobOptions,
      })),
    );
    await Promise.all(jobs.map((job) => job.waitUntilFinished(events, 300_000)));
    const ms = performance.now() - started;
    const cpuAfter = cpuSeconds(worker.child.pid);
    const cores =
      cpuBefore === undefined || cpuAfter === undefined ? undefined : (cpuAfter - cpuBefore) / (ms / 1000);
    return { ms, cores };
  } finally {
    await Promise.all([queue.obliterate({ force: true }).catch(() => {}), events.close()]);
    await queue.close();
    queueConnection.disconnect();
    eventsConnection.disconnect();
    await deleteUsage(target, prefix);
    worker.child.kill('SIGTERM');
    await worker.exited;
    rmSync(reportsDir, { recursive: true, force: true });
  }
}

export interface ReportThroughputResult {
  rows: number;
  reports: number;
  rounds: number;
  /** Median ms for the reports one after the other (`WORKER_CONCURRENCY=1`). */
  sequentialMs: number;
  /** Median ms for the reports at once (`WORKER_CONCURRENCY=2`). */
  concurrentMs: number;
  /** Median of the per-round ratios sequential / concurrent. */
  speedup: number;
  /**
   * Median cores the worker kept busy (its CPU time over wall time; Linux). On a
   * shared machine the speed-up is capped by the cores others leave free; this
   * shows whether the worker itself used them.
   */
  sequentialCores: number | undefined;
  concurrentCores: number | undefined;
}

/**
 * Two (by default) PDF reports of a synthetic `rows`-row day, rendered by the
 * real report-worker process at concurrency 2 against one after the other at
 * concurrency 1, in interleaved rounds. Each render has its own sandbox
 * thread, so on two cores the concurrent run should take about half as long.
 */
export async function reportThroughput(
  target: RedisTarget,
  options: { rows?: number; reports?: number; rounds?: number } = {},
): Promise<ReportThroughputResult> {
  const { rows = 2_000, reports: count = 2, rounds = 3 } = options;
  if (!existsSync(REPORT_WORKER_MAIN)) {
    throw new Error(`${REPORT_WORKER_MAIN} is missing: build @jobfleet/report-worker first`);
  }
  const sequential: Measurement[] = [];
  const concurrent: Measurement[] = [];
  // One unmeasured run: disk cache and JIT of the first process are not in round one.
  await measure(target, 2, Math.min(rows, 200), count);
  for (let round = 0; round < rounds; round++) {
    if (round % 2 === 0) {
      sequential.push(await measure(target, 1, rows, count));
      concurrent.push(await measure(target, 2, rows, count));
    } else {
      concurrent.push(await measure(target, 2, rows, count));
      sequential.push(await measure(target, 1, rows, count));
    }
  }
  const cores = (runs: Measurement[]) => {
    const values = runs.map((run) => run.cores).filter((c): c is number => c !== undefined);
    return values.length > 0 ? median(values) : undefined;
  };
  return {
    rows,
    reports: count,
    rounds,
    sequentialMs: median(sequential.map((run) => run.ms)),
    concurrentMs: median(concurrent.map((run) => run.ms)),
    speedup: median(sequential.map((run, i) => run.ms / (concurrent[i]?.ms ?? Number.NaN))),
    sequentialCores: cores(sequential),
    concurrentCores: cores(concurrent),
  };
}

export function describeReportThroughput(result: ReportThroughputResult): string {
  const cores = (value: number | undefined) =>
    value === undefined ? '' : `  (${value.toFixed(2)} cores busy)`;
  return [
    `report worker: ${result.reports} PDF reports of ${result.rows} rows, median of ${result.rounds} interleaved rounds`,
    `  one after the other (concurrency 1)   ${Math.round(result.sequentialMs)} ms${cores(result.sequentialCores)}`,
    `  at once (concurrency 2)               ${Math.round(result.concurrentMs)} ms${cores(result.concurrentCores)}`,
    `  speed-up                              ${result.speedup.toFixed(2)}x`,
  ].join('\n');
}
