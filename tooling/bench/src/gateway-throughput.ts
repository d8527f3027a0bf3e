import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { emails } from '@jobfleet/queue-contracts';
import { createRedisConnection } from '@jobfleet/service-kit';
import { freePort, waitUntilReady } from '@jobfleet/test-utils';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { Pool } from 'undici';
import { formatRate, median } from './stats.js';

/** The built gateway; `pnpm bench` builds every package first. */
const GATEWAY_MAIN = fileURLToPath(new URL('../../../apps/gateway/dist/main.js', import.meta.url));

const BENCH_SECRET = 'bench-secret-0123456789abcdef';
const PAYLOAD = { userId: 123, to: 'ada@example.com', name: 'Ada' };
const JOB = JSON.stringify({ name: 'welcome', data: PAYLOAD });

export interface GatewayThroughputOptions {
  /** Jobs per measured run of the single-job comparison. */
  jobs: number;
  /** Interleaved rounds; medians are reported. */
  rounds: number;
  /** Keep-alive connections to the gateway, and raw `queue.add` calls in flight. */
  connections?: number;
  /** Jobs per batch, for the gateway's batch route and raw `addBulk`. */
  batchSize?: number;
  /** Batches per measured run. */
  batches?: number;
  /** Batch requests (and raw `addBulk` calls) in flight. */
  batchConcurrency?: number;
  /** The gateway's `LOG_LEVEL`; its default, `info`, is what production runs. */
  logLevel?: string;
  /** Node flags for the gateway process, e.g. `['--cpu-prof', '--cpu-prof-dir=/tmp/prof']` to profile it. */
  nodeFlags?: readonly string[];
}

interface Run {
  /** Jobs per second. */
  rate: number;
  /** Per-request latencies (ms), for the gateway runs. */
  latencies: number[];
}

export interface Comparison {
  raw: number;
  gateway: number;
  /** gateway / raw, paired per round, median over rounds. */
  ratio: number;
  /** Gateway request latency over all measured rounds (ms). */
  p50: number;
  p99: number;
}

export interface GatewayThroughputResult {
  connections: number;
  batchSize: number;
  batchConcurrency: number;
  single: Comparison;
  batch: Comparison;
}

function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

/** Runs `total` tasks with `concurrency` of them in flight; returns the per-task times (ms) and the wall time. */
async function drive(total: number, concurrency: number, task: (i: number) => Promise<void>) {
  let next = 0;
  const latencies: number[] = new Array(total);
  const started = performance.now();
  const lane = async () => {
    for (let i = next++; i < total; i = next++) {
      const at = performance.now();
      await task(i);
      latencies[i] = performance.now() - at;
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, total) }, lane));
  return { latencies, seconds: (performance.now() - started) / 1_000 };
}

/** The built gateway as its own process, on a free port, with one bench key that no rate limit slows. */
async function startGateway(
  redisUrl: string,
  prefix: string,
  logLevel: string,
  nodeFlags: readonly string[],
) {
  if (!existsSync(GATEWAY_MAIN)) {
    throw new Error(
      `${GATEWAY_MAIN} is missing: build first (pnpm turbo run build --filter=@jobfleet/gateway)`,
    );
  }
  const port = await freePort();
  const keys = [
    {
      id: 'bench',
      key: BENCH_SECRET,
      scopes: ['emails:enqueue'],
      rateLimit: { max: 100_000_000, timeWindowMs: 1_000 },
    },
  ];
  const child: ChildProcess = spawn(process.execPath, [...nodeFlags, GATEWAY_MAIN], {
    env: {
      PATH: process.env.PATH ?? '',
      REDIS_URL: redisUrl,
      JOBFLEET_PREFIX: prefix,
      HOST: '127.0.0.1',
      PORT: String(port),
      LOG_LEVEL: logLevel,
      GATEWAY_API_KEYS: JSON.stringify(keys),
    },
    // Logs go where a container's would: written, and read by nobody here.
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const origin = `http://127.0.0.1:${port}`;
  await waitUntilReady(origin, { timeoutMs: 30_000, intervalMs: 50, child, output: () => stderr }).catch(
    (error: Error) => {
      throw new Error(`the gateway: ${error.message}`);
    },
  );
  const stop = async () => {
    if (child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  };
  return { origin, stop };
}

/** POSTs over the pool and checks the answer; the body is read, as a client would. */
async function post(pool: Pool, path: string, body: string, expected: number): Promise<void> {
  const response = await pool.request({
    method: 'POST',
    path,
    headers: { authorization: `Bearer ${BENCH_SECRET}`, 'content-type': 'application/json' },
    body,
  });
  const text = await response.body.text();
  if (response.statusCode !== expected)
    throw new Error(`${path}: ${response.statusCode} ${text.slice(0, 300)}`);
}

/**
 * The gateway against raw BullMQ on the same Redis, in the same run:
 * (a) one job per request over `connections` keep-alive connections vs raw
 * `queue.add` with as many in flight; (b) batches of `batchSize` vs raw
 * `addBulk` of as many. Rounds alternate which goes first, so drift of a shared
 * machine hits both; ratios are paired per round, then the median is taken.
 * The gateway runs as its own process (`node apps/gateway/dist/main.js`) with
 * its production defaults; raw BullMQ runs in this process with the same
 * payload and the contract's default options.
 */
export async function gatewayThroughput(
  redisUrl: string,
  options: GatewayThroughputOptions,
): Promise<GatewayThroughputResult> {
  const connections = options.connections ?? 64;
  const batchSize = options.batchSize ?? 500;
  const batches = options.batches ?? 40;
  const batchConcurrency = options.batchConcurrency ?? 4;
  const prefix = `bench-gw-${Date.now().toString(36)}`;
  const rawPrefix = `${prefix}-raw`;
  const gateway = await startGateway(redisUrl, prefix, options.logLevel ?? 'info', options.nodeFlags ?? []);
  const pool = new Pool(gateway.origin, { connections, pipelining: 1, keepAliveTimeout: 60_000 });
  const connection: Redis = createRedisConnection({ url: redisUrl, flavour: 'producer', name: 'bench-raw' });
  const raw = new Queue(emails.name, { connection, prefix: rawPrefix });
  // Read and clear what the gateway wrote, between runs.
  const gatewayView = new Queue(emails.name, { connection, prefix });
  const batchBody = JSON.stringify({ jobs: Array.from({ length: batchSize }, () => JSON.parse(JOB)) });
  const bulk = Array.from({ length: batchSize }, () => ({
    name: 'welcome',
    data: PAYLOAD,
    opts: emails.defaultJobOptions,
  }));

  const runs = {
    rawSingle: async (jobs: number): Promise<Run> => {
      const { seconds } = await drive(jobs, connections, async () => {
        await raw.add('welcome', PAYLOAD, emails.defaultJobOptions);
      });
      return { rate: jobs / seconds, latencies: [] };
    },
    gatewaySingle: async (jobs: number): Promise<Run> => {
      const { seconds, latencies } = await drive(jobs, connections, () =>
        post(pool, '/v1/queues/emails/jobs', JOB, 202),
      );
      return { rate: jobs / seconds, latencies };
    },
    rawBatch: async (count: number): Promise<Run> => {
      const { seconds } = await drive(count, batchConcurrency, async () => {
        await raw.addBulk(bulk);
      });
      return { rate: (count * batchSize) / seconds, latencies: [] };
    },
    gatewayBatch: async (count: number): Promise<Run> => {
      const { seconds, latencies } = await drive(count, batchConcurrency, () =>
        post(pool, '/v1/queues/emails/jobs/batch', batchBody, 202),
      );
      return { rate: (count * batchSize) / seconds, latencies };
    },
  };
  const clean = async () => {
    await Promise.all([raw.obliterate({ force: true }), gatewayView.obliterate({ force: true })]);
  };

  type Pair = readonly [keyof typeof runs, keyof typeof runs];
  const compare = async (pair: Pair, size: number, warmup: number): Promise<Comparison> => {
    const [rawRun, gatewayRun] = pair;
    await runs[rawRun](warmup);
    await runs[gatewayRun](warmup);
    await clean();
    const rates = { raw: [] as number[], gateway: [] as number[] };
    const latencies: number[] = [];
    for (let round = 0; round < options.rounds; round++) {
      const order = round % 2 === 0 ? ([rawRun, gatewayRun] as const) : ([gatewayRun, rawRun] as const);
      for (const name of order) {
        const run = await runs[name](size);
        (name === rawRun ? rates.raw : rates.gateway).push(run.rate);
        latencies.push(...run.latencies);
        await clean();
      }
    }
    return {
      raw: median(rates.raw),
      gateway: median(rates.gateway),
      ratio: median(rates.gateway.map((rate, i) => rate / (rates.raw[i] ?? Number.NaN))),
      p50: percentile(latencies, 50),
      p99: percentile(latencies, 99),
    };
  };

  try {
    const single = await compare(['rawSingle', 'gatewaySingle'], options.jobs, Math.min(2_000, options.jobs));
    const batch = await compare(['rawBatch', 'gatewayBatch'], batches, Math.min(4, batches));
    return { connections, batchSize, batchConcurrency, single, batch };
  } finally {
    await clean().catch(() => {});
    await Promise.all([raw.close(), gatewayView.close()]);
    connection.disconnect();
    await pool.close();
    await gateway.stop();
  }
}

const ms = (value: number) => `${value.toFixed(value < 10 ? 2 : 1)} ms`;

/** The result as `pnpm bench` prints it, with each ratio against its target. */
export function describeGatewayThroughput(
  result: GatewayThroughputResult,
  targets: { single: number; batch: number } = { single: 0.8, batch: 0.9 },
): string {
  const verdict = (ratio: number, target: number) =>
    `(target >= ${target}: ${ratio >= target ? 'met' : 'MISSED'})`;
  const { single, batch } = result;
  return [
    `gateway vs raw BullMQ, one job per request, ${result.connections} keep-alive connections / adds in flight:`,
    `  raw queue.add                     ${formatRate(single.raw)}`,
    `  gateway POST /jobs                ${formatRate(single.gateway)}   p50 ${ms(single.p50)}, p99 ${ms(single.p99)}`,
    `  gateway/raw                       ${single.ratio.toFixed(2)} ${verdict(single.ratio, targets.single)}`,
    `gateway vs raw BullMQ, batches of ${result.batchSize}, ${result.batchConcurrency} in flight:`,
    `  raw queue.addBulk                 ${formatRate(batch.raw)}`,
    `  gateway POST /jobs/batch          ${formatRate(batch.gateway)}   p50 ${ms(batch.p50)}, p99 ${ms(batch.p99)}`,
    `  gateway/raw                       ${batch.ratio.toFixed(2)} ${verdict(batch.ratio, targets.batch)}`,
  ].join('\n');
}
