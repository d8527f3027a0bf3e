import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deadLetters, reports } from '@jobfleet/queue-contracts';
import { createLogger } from '@jobfleet/service-kit';
import type { TestRedis } from '@jobfleet/test-utils';
import type { Outcome } from '@jobfleet/worker-runtime';
import { UsageLedger } from '@jobfleet/worker-runtime';
import { type Job, Queue, QueueEvents } from 'bullmq';

/** Runs poppler's pdftotext, a real PDF parser, on `pdf`. */
export function pdfToText(pdf: Uint8Array): string {
  const dir = mkdtempSync(join(tmpdir(), 'report-pdf-'));
  try {
    writeFileSync(join(dir, 'report.pdf'), pdf);
    return execFileSync('pdftotext', ['-layout', join(dir, 'report.pdf'), '-'], { encoding: 'utf8' });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new Error('pdftotext not found: apt-get install poppler-utils');
    }
    throw error;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface UsageSeed {
  tenant: string;
  queue: string;
  jobName: string;
  outcome: Outcome;
  /** Run times of the attempts, one entry per attempt. */
  seconds: number[];
  at: number;
}

/** Writes usage through the runtime's own ledger, as finished attempts would. */
export async function seedUsage(redis: TestRedis, seeds: UsageSeed[]): Promise<void> {
  const ledger = new UsageLedger({
    connection: redis.connection(),
    prefix: redis.prefix,
    logger: createLogger({ service: 'test', level: 'silent' }),
    retentionDays: 40,
    flushMs: 60_000,
  });
  for (const seed of seeds) {
    for (const seconds of seed.seconds)
      ledger.record(seed.tenant, seed.queue, seed.jobName, seed.outcome, seconds, seed.at);
  }
  await ledger.close();
}

/** The `reports` queue, its events and the dead-letter queue on the test's prefix; closed by `cleanup`. */
export async function reportQueues(redis: TestRedis, cleanup: Array<() => Promise<unknown>>) {
  const queue = new Queue(reports.name, { connection: redis.connection(), prefix: redis.prefix });
  const dlq = new Queue(deadLetters.name, { connection: redis.connection(), prefix: redis.prefix });
  const events = new QueueEvents(reports.name, { connection: { url: redis.url }, prefix: redis.prefix });
  cleanup.push(
    () => events.close(),
    () => queue.close(),
    () => dlq.close(),
  );
  await events.waitUntilReady();
  /** Adds a report job with the contract's options, retries coming quickly. */
  const add = (data: Record<string, unknown>, extra: object = {}) =>
    queue.add('daily-report', data as never, {
      ...reports.defaultJobOptions,
      backoff: { type: 'fixed', delay: 10 },
      ...extra,
    });
  /** Every progress value reported for a job, in order. */
  const progressOf = (jobId: () => string | undefined) => {
    const values: number[] = [];
    events.on('progress', ({ jobId: id, data }) => {
      if (id === jobId() && typeof data === 'number') values.push(data);
    });
    return values;
  };
  /** Resolves once the dead-letter queue holds a record of `jobId`. */
  const deadLettered = (jobId: string, timeoutMs = 15_000) =>
    new Promise<Job>((resolve, reject) => {
      const dlqEvents = new QueueEvents(deadLetters.name, {
        connection: { url: redis.url },
        prefix: redis.prefix,
      });
      cleanup.push(() => dlqEvents.close());
      const timer = setTimeout(() => reject(new Error(`no dead letter for ${jobId}`)), timeoutMs);
      const check = async () => {
        const records = await dlq.getJobs(['waiting', 'active', 'completed', 'failed', 'delayed']);
        const record = records.find((r) => r.data.jobId === jobId);
        if (record) {
          clearTimeout(timer);
          resolve(record);
        }
      };
      dlqEvents.on('added', () => void check());
      void dlqEvents.waitUntilReady().then(check);
    });
  return { queue, dlq, events, add, progressOf, deadLettered };
}

/** One read of `/metrics`. Callers first await the event after which what they assert was counted. */
export async function scrape(url: string): Promise<string> {
  const response = await fetch(`${url}/metrics`);
  if (!response.ok) throw new Error(`GET ${url}/metrics: ${response.status}`);
  return response.text();
}

/** The value of one sample in a Prometheus text scrape (`name{labels}` exactly as printed). */
export function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}
