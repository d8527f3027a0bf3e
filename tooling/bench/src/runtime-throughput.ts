import { randomUUID } from 'node:crypto';
import { defineQueue } from '@jobfleet/queue-contracts';
import { createLogger, createMetricsRegistry } from '@jobfleet/service-kit';
import { BULLMQ_METRICS, createWorkerRuntime } from '@jobfleet/worker-runtime';
import { Queue, Worker } from 'bullmq';
import { Type } from 'typebox';
import type { RedisTarget } from './redis-target.js';
import { formatRate, median } from './stats.js';

/** A no-op job, so the measurement is the runtime's own cost over BullMQ's. */
const bench = defineQueue({
  name: 'bench',
  team: 'platform',
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

/**
 * `raw`: a BullMQ `Worker` with its defaults. `alike`: a BullMQ `Worker` set up
 * as the runtime sets BullMQ up — per-minute metrics on, the contract's
 * retention, a processor of two parameters (BullMQ makes no AbortSignal for it;
 * the runtime makes a job's signal when its handler reads it) — so
 * `runtime / alike` is the cost of the runtime's own code, and `runtime / raw`
 * adds the cost of those BullMQ features. `metrics` and `retention`: raw BullMQ with only one of the
 * two, so each feature's own cost is read against `raw`.
 */
type Variant = 'raw' | 'metrics' | 'retention' | 'alike' | 'runtime';

async function fill(target: RedisTarget, prefix: string, jobs: number) {
  const connection = target.connect('worker');
  const queue = new Queue(bench.name, { connection, prefix: target.prefix(connection, prefix, bench.name) });
  for (let i = 0; i < jobs; i += 1_000) {
    const size = Math.min(1_000, jobs - i);
    await queue.addBulk(Array.from({ length: size }, (_, k) => ({ name: 'noop', data: { i: i + k } })));
  }
  await queue.close();
  connection.disconnect();
}

/** Processes `jobs` queued no-op jobs with one variant; returns jobs per second. */
async function measure(
  target: RedisTarget,
  variant: Variant,
  concurrency: number,
  jobs: number,
): Promise<number> {
  const prefix = `bench-${randomUUID().slice(0, 8)}`;
  await fill(target, prefix, jobs);
  const connection = target.connect('worker');
  // Raw BullMQ gets the queue's prefix as the fleet lays it out; the runtime is given the fleet prefix, as its
  // processes are, and lays its queue out itself.
  const queuePrefix = target.prefix(connection, prefix, bench.name);
  let worker: Worker;
  let close: () => Promise<unknown>;
  if (variant === 'raw') {
    worker = new Worker(bench.name, async () => null, {
      connection,
      prefix: queuePrefix,
      concurrency,
      autorun: false,
    });
    close = () => worker.close();
  } else if (variant !== 'runtime') {
    const metrics = variant === 'alike' || variant === 'metrics';
    const retention = variant === 'alike' || variant === 'retention';
    worker = new Worker(bench.name, async (_job, _token) => null, {
      connection,
      prefix: queuePrefix,
      concurrency,
      autorun: false,
      ...(metrics ? { metrics: BULLMQ_METRICS } : {}),
      ...(retention
        ? {
            removeOnComplete: bench.defaultJobOptions.removeOnComplete,
            removeOnFail: bench.defaultJobOptions.removeOnFail,
          }
        : {}),
    });
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
  // Timed from the first completion to the last, so start-up (which differs: the runtime starts
  // its worker at once) is outside the measurement for every variant.
  let done = 0;
  let first = 0;
  const finished = new Promise<number>((resolve) => {
    worker.on('completed', () => {
      done += 1;
      if (done === 1) first = performance.now();
      if (done === jobs) resolve(performance.now());
    });
  });
  if (variant !== 'runtime') void worker.run();
  const last = await finished;
  await close();
  connection.disconnect();
  return (jobs - 1) / ((last - first) / 1000);
}

export interface ThroughputResult {
  concurrency: number;
  raw: number;
  alike: number;
  runtime: number;
  /** runtime / alike: what the runtime's own code costs. */
  ratio: number;
  /** runtime / raw: including the BullMQ features the runtime switches on. */
  ratioToDefaults: number;
  /** raw BullMQ with per-minute metrics / raw, and with the contract's retention / raw. */
  metricsCost: number;
  retentionCost: number;
  metrics: number;
  retention: number;
}

/**
 * The worker runtime against a raw BullMQ `Worker` on the same Redis, in
 * interleaved rounds (raw first in even rounds, runtime first in odd ones), so
 * drift on a shared machine hits both alike. Reports medians.
 */
export async function runtimeThroughput(
  target: RedisTarget,
  options: { concurrency: number; jobs: number; rounds: number },
): Promise<ThroughputResult> {
  const variants: Variant[] = ['raw', 'metrics', 'retention', 'alike', 'runtime'];
  const rates: Record<Variant, number[]> = { raw: [], metrics: [], retention: [], alike: [], runtime: [] };
  // One unmeasured warm-up of each, so JIT and connection set-up are not in the first round.
  for (const variant of variants)
    await measure(target, variant, options.concurrency, Math.min(500, options.jobs));
  for (let round = 0; round < options.rounds; round++) {
    const order = round % 2 === 0 ? variants : [...variants].reverse();
    for (const variant of order) {
      rates[variant].push(await measure(target, variant, options.concurrency, options.jobs));
    }
  }
  const [raw, metrics, retention, alike, runtime] = variants.map((v) => median(rates[v])) as [
    number,
    number,
    number,
    number,
    number,
  ];
  // Ratios are paired per round (the variants of one round ran back to back), then the median taken:
  // drift of a shared machine between rounds cancels out.
  const paired = (of: Variant, base: Variant) =>
    median(rates[of].map((rate, i) => rate / (rates[base][i] ?? Number.NaN)));
  return {
    concurrency: options.concurrency,
    raw,
    metrics,
    retention,
    alike,
    runtime,
    ratio: paired('runtime', 'alike'),
    ratioToDefaults: paired('runtime', 'raw'),
    metricsCost: paired('metrics', 'raw'),
    retentionCost: paired('retention', 'raw'),
  };
}

export function describeThroughput(
  result: ThroughputResult,
  targets?: { alike: number; defaults: number },
): string {
  const verdict = (value: number, target: number | undefined) =>
    target === undefined ? '' : ` (target >= ${target}: ${value >= target ? 'met' : 'MISSED'})`;
  return [
    `concurrency ${result.concurrency}:`,
    `  raw BullMQ, defaults              ${formatRate(result.raw)}`,
    `  raw BullMQ + per-minute metrics   ${formatRate(result.metrics)}`,
    `  raw BullMQ + contract retention   ${formatRate(result.retention)}`,
    `  raw BullMQ, set up like runtime   ${formatRate(result.alike)}`,
    `  worker runtime                    ${formatRate(result.runtime)}`,
    `  runtime/raw (set up alike)        ${result.ratio.toFixed(2)}${verdict(result.ratio, targets?.alike)}`,
    `  runtime/raw (defaults)            ${result.ratioToDefaults.toFixed(2)}${verdict(result.ratioToDefaults, targets?.defaults)}`,
    `  metrics alone: raw+metrics/raw    ${result.metricsCost.toFixed(2)}`,
    `  retention alone: raw+ret./raw     ${result.retentionCost.toFixed(2)}`,
  ].join('\n');
}
