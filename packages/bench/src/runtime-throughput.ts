import { randomUUID } from 'node:crypto';
import { defineQueue } from '@jobfleet/queue-contracts';
import { createLogger, createMetricsRegistry, createRedisConnection } from '@jobfleet/service-kit';
import { createWorkerRuntime } from '@jobfleet/worker-runtime';
import { Queue, Worker } from 'bullmq';
import { Type } from 'typebox';
import { formatRate, median } from './stats.js';

/** A no-op job, so the measurement is the runtime's own cost over BullMQ's. */
const bench = defineQueue({
  name: 'bench',
  description: 'Benchmark queue.',
  jobs: {
    noop: {
      description: 'Does nothing.',
      data: Type.Object({ i: Type.Integer() }, { additionalProperties: false }),
      result: Type.Null(),
    },
  },
  defaultJobOptions: {
    attempts: 1,
    backoff: { type: 'fixed', delay: 0 },
    removeOnComplete: { age: 3_600, count: 1_000 },
    removeOnFail: { age: 3_600, count: 1_000 },
  },
});

type Variant = 'raw' | 'runtime';

async function fill(redisUrl: string, prefix: string, jobs: number) {
  const connection = createRedisConnection({ url: redisUrl, flavour: 'worker' });
  const queue = new Queue(bench.name, { connection, prefix });
  for (let i = 0; i < jobs; i += 1_000) {
    const size = Math.min(1_000, jobs - i);
    await queue.addBulk(Array.from({ length: size }, (_, k) => ({ name: 'noop', data: { i: i + k } })));
  }
  await queue.close();
  connection.disconnect();
}

/** Processes `jobs` queued no-op jobs with one variant; returns jobs per second. */
async function measure(
  redisUrl: string,
  variant: Variant,
  concurrency: number,
  jobs: number,
): Promise<number> {
  const prefix = `bench-${randomUUID().slice(0, 8)}`;
  await fill(redisUrl, prefix, jobs);
  const connection = createRedisConnection({ url: redisUrl, flavour: 'worker' });
  let worker: Worker;
  let close: () => Promise<unknown>;
  if (variant === 'raw') {
    worker = new Worker(bench.name, async () => null, { connection, prefix, concurrency, autorun: false });
    close = () => worker.close();
  } else {
    const runtime = createWorkerRuntime({
      contract: bench,
      handlers: { noop: async () => null },
      connection,
      prefix,
      concurrency,
      logger: createLogger({ service: 'bench', level: 'silent' }),
      registry: createMetricsRegistry(),
      workerOptions: {},
    });
    worker = runtime.worker;
    close = () => runtime.close();
  }
  let done = 0;
  const finished = new Promise<void>((resolve) => {
    worker.on('completed', () => {
      done += 1;
      if (done === jobs) resolve();
    });
  });
  await worker.waitUntilReady();
  const started = performance.now();
  if (variant === 'raw') void worker.run();
  await finished;
  const seconds = (performance.now() - started) / 1000;
  await close();
  connection.disconnect();
  return jobs / seconds;
}

export interface ThroughputResult {
  concurrency: number;
  raw: number;
  runtime: number;
  ratio: number;
}

/**
 * The worker runtime against a raw BullMQ `Worker` on the same Redis, in
 * interleaved rounds (raw first in even rounds, runtime first in odd ones), so
 * drift on a shared machine hits both alike. Reports medians.
 */
export async function runtimeThroughput(
  redisUrl: string,
  options: { concurrency: number; jobs: number; rounds: number },
): Promise<ThroughputResult> {
  const rates: Record<Variant, number[]> = { raw: [], runtime: [] };
  // One unmeasured warm-up of each, so JIT and connection set-up are not in the first round.
  await measure(redisUrl, 'raw', options.concurrency, Math.min(500, options.jobs));
  await measure(redisUrl, 'runtime', options.concurrency, Math.min(500, options.jobs));
  for (let round = 0; round < options.rounds; round++) {
    const order: Variant[] = round % 2 === 0 ? ['raw', 'runtime'] : ['runtime', 'raw'];
    for (const variant of order) {
      rates[variant].push(await measure(redisUrl, variant, options.concurrency, options.jobs));
    }
  }
  const raw = median(rates.raw);
  const runtime = median(rates.runtime);
  return { concurrency: options.concurrency, raw, runtime, ratio: runtime / raw };
}

export function describeThroughput(result: ThroughputResult, target?: number): string {
  const verdict =
    target === undefined
      ? ''
      : result.ratio >= target
        ? ` (target ≥ ${target}: met)`
        : ` (target ≥ ${target}: MISSED)`;
  return `concurrency ${String(result.concurrency).padStart(2)}: raw BullMQ ${formatRate(result.raw)}, runtime ${formatRate(result.runtime)}, runtime/raw ${result.ratio.toFixed(2)}${verdict}`;
}
