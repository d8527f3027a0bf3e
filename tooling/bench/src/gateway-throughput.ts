import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { FLEET_FILE, readFleet } from '@jobfleet/fleet';
import { emails } from '@jobfleet/queue-contracts';
import type { RedisClient } from '@jobfleet/service-kit';
import { freePort, waitUntilReady } from '@jobfleet/test-utils';
import { Queue } from 'bullmq';
import { Pool } from 'undici';
import { treeCpuSeconds } from './process-cpu.js';
import type { RedisTarget } from './redis-target.js';
import { drive, formatRate, median } from './stats.js';

/** The built gateway; `pnpm bench` builds every package first. */
export const GATEWAY_MAIN = fileURLToPath(new URL('../../../apps/gateway/dist/main.js', import.meta.url));
/**
 * The gateway's Node options in fleet.json (`nodeOptions`), which `pnpm start`,
 * compose and Kubernetes run it with: the bench runs it as deployed. The bare
 * floor and raw BullMQ run with Node's defaults.
 */
export const GATEWAY_NODE_OPTIONS: readonly string[] =
  readFleet(FLEET_FILE).apps.find((app) => app.name === 'gateway')?.nodeOptions ?? [];
/** The bare Fastify floor, built next to this file. */
const BARE_MAIN = fileURLToPath(new URL('./bare-server.js', import.meta.url));

export const BENCH_SECRET = 'bench-secret-0123456789abcdef';
const METRICS_TOKEN = 'bench-metrics-0123456789abcdef';
/** The bench key's rate limit: on, as every key's is, and far above what one process can serve. */
export const RATE_LIMIT = { max: 100_000_000, timeWindowMs: 1_000 };
export const SINGLE_PATH = '/v1/queues/emails/jobs';
const BATCH_PATH = '/v1/queues/emails/jobs/batch';
const PAYLOAD = { userId: 123, to: 'ada@example.com', name: 'Ada' };
export const JOB = JSON.stringify({ name: 'welcome', data: PAYLOAD });

export interface GatewayThroughputOptions {
  /** Jobs per measured run of the single-job comparison. */
  jobs: number;
  /** Interleaved rounds; medians are reported. */
  rounds: number;
  /** Keep-alive connections to each server, and raw `queue.add` calls in flight. */
  connections?: number;
  /** Jobs per batch, for the gateway's batch route and raw `addBulk`: each size is compared. */
  batchSizes?: readonly number[];
  /** Jobs per measured batch run (rounded to whole batches). */
  batchJobs?: number;
  /**
   * `GATEWAY_WORKERS` of a further gateway measured in the same single-job
   * rounds (default: the host's available cores); 1 or fewer leaves it out.
   */
  workers?: number;
  /** Batch requests (and raw `addBulk` calls) in flight. */
  batchConcurrency?: number;
  /** The gateway's `LOG_LEVEL`; unset, the gateway's own default (`info`) applies, as in production. */
  logLevel?: string;
  /** Node flags for the gateway process, e.g. `['--cpu-prof', '--cpu-prof-dir=/tmp/prof']` to profile it. */
  nodeFlags?: readonly string[];
  /**
   * The `main.js` of another gateway build (an earlier commit's, say), measured
   * as a further contestant in the same single-job and batch rounds, set up
   * alike: a before/after comparison on one machine at one time.
   */
  baseline?: string;
  /** The baseline's Node options; by default fleet.json's, as the gateway's (`[]`: Node's defaults). */
  baselineNodeOptions?: readonly string[];
}

/** One measured run. */
export interface Run {
  /** Jobs per second. */
  rate: number;
  /** Per-request latencies (ms), for the runs over HTTP. */
  latencies: number[];
  /** The server process's CPU per request (µs); `undefined` for raw runs and off Linux. */
  cpuUs: number | undefined;
  /**
   * This process's CPU per request (µs): the load client, and the reader of the
   * server's log; for raw runs, BullMQ's own work per job.
   */
  clientCpuUs: number;
}

/** A server's figures over the rounds: medians of the per-round figures. */
export interface ServerFigures {
  /** Jobs per second. */
  rate: number;
  /** CPU of the server process per request (µs); `undefined` off Linux. */
  cpuUs: number | undefined;
  /** CPU of the bench process (the load client, reading the server's log) per request (µs). */
  clientCpuUs: number;
  /** Request latency percentiles (ms). */
  p50: number;
  p99: number;
}

/** One round of the single-job comparison. */
export interface SingleRound {
  raw: number;
  bare: Omit<ServerFigures, 'p50'>;
  gateway: Omit<ServerFigures, 'p50'>;
}

export interface SingleComparison {
  /** Raw `queue.add` jobs per second, median over rounds. */
  raw: number;
  /** Raw `queue.add`'s CPU per job in the bench process (µs), median over rounds. */
  rawCpuUs: number;
  bare: ServerFigures;
  gateway: ServerFigures;
  /** gateway / bare throughput, paired per round, median over rounds. */
  overBare: number;
  /** gateway / raw throughput, paired per round, median over rounds. */
  overRaw: number;
  /** gateway p99 / bare p99, paired per round, median over rounds. */
  p99OverBare: number;
  rounds: SingleRound[];
  /** The gateway with `GATEWAY_WORKERS`, when measured. */
  workers?: {
    count: number;
    figures: ServerFigures;
    /** workers / one-process gateway throughput, paired per round, median over rounds. */
    overGateway: number;
    /** Its jobs/s per round. */
    rounds: number[];
  };
  /** The other gateway build, when measured. */
  baseline?: {
    main: string;
    nodeOptions: readonly string[];
    figures: ServerFigures;
    /** this gateway / the baseline, throughput and CPU per request, paired per round, medians over rounds. */
    rateRatio: number;
    cpuRatio: number | undefined;
    /** Its jobs/s and CPU per request, per round. */
    rounds: { rate: number; cpuUs: number | undefined }[];
  };
}

export interface BatchComparison {
  size: number;
  /** Raw `addBulk` jobs per second, median over rounds. */
  raw: number;
  /** Raw `addBulk`'s CPU per job in the bench process (µs), median over rounds. */
  rawCpuUs: number;
  /** The bare server's batch route (JSON body → `addBulk` → 202); CPU per job, latency per request. */
  bare: ServerFigures;
  /** The gateway's batch route; CPU is per job, latency per batch request. */
  gateway: ServerFigures;
  /** gateway / raw, paired per round, median over rounds. */
  ratio: number;
  /** gateway / bare, paired per round, median over rounds: what the gateway costs over the HTTP hop. */
  overBare: number;
  /** bare / raw, paired per round, median over rounds: what the HTTP hop alone costs. */
  bareOverRaw: number;
  /** The baseline gateway's batch route, when measured, with this gateway / the baseline as in `single.baseline`. */
  baseline?: { figures: ServerFigures; rateRatio: number; cpuRatio: number | undefined };
}

export interface GatewayThroughputResult {
  jobs: number;
  rounds: number;
  connections: number;
  batchConcurrency: number;
  /** What the gateway ran with, and what its log and metrics showed. */
  gatewaySetup: {
    logLevel: string;
    /** The Node options it ran with (fleet.json's, then BENCH_GATEWAY_NODE_FLAGS). */
    nodeOptions: readonly string[];
    /** Log lines (and bytes) on standard output per request served. */
    logLinesPerRequest: number;
    logBytesPerRequest: number;
    rateLimit: { max: number; timeWindowMs: number };
    /** Single-job requests the `/metrics` histogram counted, against those sent. */
    metricsCounted: number;
    singleRequests: number;
  };
  single: SingleComparison;
  batches: BatchComparison[];
}

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

/** A server under test: its own process on a free port, with a keep-alive pool to it. */
export interface Server {
  readonly pid: number | undefined;
  readonly pool: Pool;
  readonly origin: string;
  /** Requests sent so far. */
  requests: number;
  /** Standard output so far: the log, read and discarded as a container runtime would. */
  readonly output: { lines: number; bytes: number };
  stop(): Promise<void>;
}

export async function startServer(
  name: string,
  main: string,
  env: Record<string, string>,
  nodeFlags: readonly string[],
  connections: number,
): Promise<Server> {
  if (!existsSync(main)) {
    throw new Error(`${main} is missing: build first (pnpm turbo run build --filter=@jobfleet/bench...)`);
  }
  const port = await freePort();
  const child: ChildProcess = spawn(process.execPath, [...nodeFlags, main], {
    env: { PATH: process.env.PATH ?? '', HOST: '127.0.0.1', PORT: String(port), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // A drained pipe, not /dev/null: writing the log costs what it costs under a container runtime.
  const output = { lines: 0, bytes: 0 };
  child.stdout?.on('data', (chunk: Buffer) => {
    output.bytes += chunk.length;
    for (let at = chunk.indexOf(10); at !== -1; at = chunk.indexOf(10, at + 1)) output.lines++;
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  const origin = `http://127.0.0.1:${port}`;
  await waitUntilReady(origin, { timeoutMs: 30_000, intervalMs: 50, child, output: () => stderr }).catch(
    (error: Error) => {
      child.kill('SIGKILL');
      throw new Error(`${name}: ${error.message}`);
    },
  );
  const pool = new Pool(origin, { connections, pipelining: 1, keepAliveTimeout: 60_000 });
  let stopped: Promise<void> | undefined;
  return {
    pid: child.pid,
    pool,
    origin,
    requests: 0,
    output,
    stop() {
      stopped ??= pool.close().then(() => {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
        return exited;
      });
      return stopped;
    },
  };
}

/** POSTs over the server's pool and checks the answer; the body is read, as a client would. */
async function post(server: Server, path: string, body: string): Promise<void> {
  server.requests++;
  const response = await server.pool.request({
    method: 'POST',
    path,
    headers: { authorization: `Bearer ${BENCH_SECRET}`, 'content-type': 'application/json' },
    body,
  });
  const text = await response.body.text();
  if (response.statusCode !== 202) throw new Error(`${path}: ${response.statusCode} ${text.slice(0, 300)}`);
}

/** `requests` POSTs of `body`, `concurrency` in flight, with the server's CPU over the run. */
export async function serve(
  server: Server,
  path: string,
  body: string,
  requests: number,
  concurrency: number,
  jobsPerRequest = 1,
): Promise<Run> {
  const before = treeCpuSeconds(server.pid);
  const run = await drive(requests, concurrency, () => post(server, path, body));
  const after = treeCpuSeconds(server.pid);
  const jobs = requests * jobsPerRequest;
  const cpuUs = before === undefined || after === undefined ? undefined : ((after - before) * 1e6) / jobs;
  return { rate: jobs / run.seconds, latencies: run.latencies, cpuUs, clientCpuUs: run.cpuUs / jobs };
}

/** Single-job requests the gateway's `jobfleet_http_request_duration_seconds` counted: it scrapes `/metrics`. */
async function countedByMetrics(gateway: Server): Promise<number> {
  const response = await gateway.pool.request({
    method: 'GET',
    path: '/metrics',
    headers: { authorization: `Bearer ${METRICS_TOKEN}` },
  });
  const text = await response.body.text();
  if (response.statusCode !== 200) throw new Error(`/metrics: ${response.statusCode} ${text.slice(0, 300)}`);
  let counted = 0;
  for (const line of text.split('\n')) {
    if (
      line.startsWith('jobfleet_http_request_duration_seconds_count{') &&
      line.includes(`route="${SINGLE_PATH}"`)
    )
      counted += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return counted;
}

const medianOf = (values: readonly (number | undefined)[]): number | undefined =>
  values.some((value) => value === undefined) ? undefined : median(values as number[]);

/**
 * The gateway against the floor under it, on the same Redis, in the same run:
 * (a) one job per request over `connections` keep-alive connections to the
 * gateway and to a bare Fastify server (JSON body → `queue.add` → 202, nothing
 * else), against raw `queue.add` with as many in flight, and (where the host
 * has more than one core) a gateway with `GATEWAY_WORKERS`; (b) gateway batches
 * of each of `batchSizes` against raw `addBulk` of as many and against the bare
 * server's batch route (JSON body → `addBulk` → 202). Each round rotates which goes
 * first, so drift of a shared machine hits all; ratios are paired per round,
 * then the median is taken.
 *
 * Both servers run as their own processes; their CPU per request is read from
 * `/proc`. The gateway runs as a user runs it (`node <fleet.json's nodeOptions>
 * apps/gateway/dist/main.js`): its default log level with standard output to a
 * drained pipe, an API key with a rate limit (high enough never to refuse),
 * metrics on and scraped once at the end. Raw BullMQ runs in this process with the same payload and the contract's
 * default options.
 */
export async function gatewayThroughput(
  target: RedisTarget,
  options: GatewayThroughputOptions,
): Promise<GatewayThroughputResult> {
  const connections = options.connections ?? 64;
  const batchSizes = options.batchSizes ?? [100, 500];
  const batchJobs = options.batchJobs ?? 20_000;
  const batchConcurrency = options.batchConcurrency ?? 4;
  const workerCount = options.workers ?? availableParallelism();
  const prefix = `bench-gw-${Date.now().toString(36)}`;
  const prefixes = {
    raw: `${prefix}-raw`,
    bare: `${prefix}-bare`,
    gateway: prefix,
    workers: `${prefix}-workers`,
    baseline: `${prefix}-baseline`,
  };
  const keys = [{ id: 'bench', key: BENCH_SECRET, scopes: ['emails:enqueue'], rateLimit: RATE_LIMIT }];
  const gatewayEnv = (jobfleetPrefix: string) => ({
    ...target.env,
    JOBFLEET_PREFIX: jobfleetPrefix,
    GATEWAY_API_KEYS: JSON.stringify(keys),
    METRICS_TOKEN,
    ...(options.logLevel ? { LOG_LEVEL: options.logLevel } : {}),
  });
  const gatewayFlags = [...GATEWAY_NODE_OPTIONS, ...(options.nodeFlags ?? [])];
  const gateway = await startServer(
    'the gateway',
    GATEWAY_MAIN,
    gatewayEnv(prefixes.gateway),
    gatewayFlags,
    connections,
  );
  const bare = await startServer(
    'the bare Fastify server',
    BARE_MAIN,
    { ...target.env, JOBFLEET_PREFIX: prefixes.bare },
    [],
    connections,
  ).catch(async (error: unknown) => {
    await gateway.stop();
    throw error;
  });
  const workers =
    workerCount > 1
      ? await startServer(
          `the gateway with GATEWAY_WORKERS=${workerCount}`,
          GATEWAY_MAIN,
          { ...gatewayEnv(prefixes.workers), GATEWAY_WORKERS: String(workerCount) },
          GATEWAY_NODE_OPTIONS,
          connections,
        ).catch(async (error: unknown) => {
          await Promise.all([gateway.stop(), bare.stop()]);
          throw error;
        })
      : undefined;
  const baselineFlags = options.baselineNodeOptions ?? GATEWAY_NODE_OPTIONS;
  const baseline =
    options.baseline === undefined
      ? undefined
      : await startServer(
          `the baseline gateway (${options.baseline})`,
          options.baseline,
          gatewayEnv(prefixes.baseline),
          baselineFlags,
          connections,
        ).catch(async (error: unknown) => {
          await Promise.all([gateway.stop(), bare.stop(), workers?.stop()]);
          throw error;
        });
  const connection: RedisClient = target.connect('producer', 'bench-raw');
  const raw = new Queue(emails.name, {
    connection,
    prefix: target.prefix(connection, prefixes.raw, emails.name),
  });
  // Read and clear what the servers wrote, between runs.
  const views = [prefixes.bare, prefixes.gateway, prefixes.workers, prefixes.baseline].map(
    (p) => new Queue(emails.name, { connection, prefix: target.prefix(connection, p, emails.name) }),
  );
  const batchOf = (size: number) => ({
    body: JSON.stringify({ jobs: Array.from({ length: size }, () => JSON.parse(JOB)) }),
    bulk: Array.from({ length: size }, () => ({
      name: 'welcome',
      data: PAYLOAD,
      opts: emails.defaultJobOptions,
    })),
  });

  const single = {
    raw: async (jobs: number): Promise<Run> => {
      const { seconds, cpuUs } = await drive(jobs, connections, async () => {
        await raw.add('welcome', PAYLOAD, emails.defaultJobOptions);
      });
      return { rate: jobs / seconds, latencies: [], cpuUs: undefined, clientCpuUs: cpuUs / jobs };
    },
    bare: (jobs: number) => serve(bare, SINGLE_PATH, JOB, jobs, connections),
    gateway: (jobs: number) => serve(gateway, SINGLE_PATH, JOB, jobs, connections),
    ...(workers ? { workers: (jobs: number) => serve(workers, SINGLE_PATH, JOB, jobs, connections) } : {}),
    ...(baseline ? { baseline: (jobs: number) => serve(baseline, SINGLE_PATH, JOB, jobs, connections) } : {}),
  };
  const batch = (size: number) => {
    const { body, bulk } = batchOf(size);
    return {
      raw: async (count: number): Promise<Run> => {
        const { seconds, cpuUs } = await drive(count, batchConcurrency, async () => {
          await raw.addBulk(bulk);
        });
        return {
          rate: (count * size) / seconds,
          latencies: [],
          cpuUs: undefined,
          clientCpuUs: cpuUs / (count * size),
        };
      },
      bare: (count: number) => serve(bare, BATCH_PATH, body, count, batchConcurrency, size),
      gateway: (count: number) => serve(gateway, BATCH_PATH, body, count, batchConcurrency, size),
      ...(baseline
        ? { baseline: (count: number) => serve(baseline, BATCH_PATH, body, count, batchConcurrency, size) }
        : {}),
    };
  };
  const clean = async () => {
    await Promise.all([raw, ...views].map((queue) => queue.obliterate({ force: true })));
  };

  /**
   * Runs every contestant once unmeasured, then once per round, each round starting one further
   * along; the runs of each, by round. The unmeasured run is a whole one: in a process just started
   * the CPU per request was still falling after 2,000 requests.
   */
  async function rounds<Name extends string>(
    runs: Record<Name, (size: number) => Promise<Run>>,
    size: number,
  ): Promise<Record<Name, Run[]>> {
    const names = Object.keys(runs) as Name[];
    for (const name of names) await runs[name](size);
    await clean();
    const results = Object.fromEntries(names.map((name) => [name, [] as Run[]])) as Record<Name, Run[]>;
    for (let round = 0; round < options.rounds; round++) {
      const shift = round % names.length;
      for (const name of [...names.slice(shift), ...names.slice(0, shift)]) {
        results[name].push(await runs[name](size));
        await clean();
      }
    }
    return results;
  }
  const figures = (runs: Run[]): ServerFigures => ({
    rate: median(runs.map((run) => run.rate)),
    cpuUs: medianOf(runs.map((run) => run.cpuUs)),
    clientCpuUs: median(runs.map((run) => run.clientCpuUs)),
    p50: median(runs.map((run) => percentile(run.latencies, 50))),
    p99: median(runs.map((run) => percentile(run.latencies, 99))),
  });
  const perRound = (a: Run[], b: Run[], of: (run: Run) => number) =>
    median(a.map((run, i) => of(run) / (b[i] === undefined ? Number.NaN : of(b[i]))));
  const p99 = (run: Run) => percentile(run.latencies, 99);
  /** This gateway against the baseline's runs of the same rounds. */
  const overBaseline = (mine: Run[], theirs: Run[]) => ({
    figures: figures(theirs),
    rateRatio: perRound(mine, theirs, (run) => run.rate),
    cpuRatio: [...mine, ...theirs].some((run) => run.cpuUs === undefined)
      ? undefined
      : perRound(mine, theirs, (run) => run.cpuUs ?? Number.NaN),
  });

  try {
    const s = await rounds(
      single as Record<'raw' | 'bare' | 'gateway' | 'workers' | 'baseline', (size: number) => Promise<Run>>,
      options.jobs,
    );
    const singleRequests = gateway.requests;
    const batches: BatchComparison[] = [];
    for (const size of batchSizes) {
      const count = Math.max(1, Math.round(batchJobs / size));
      const b = await rounds(
        batch(size) as Record<'raw' | 'bare' | 'gateway' | 'baseline', (count: number) => Promise<Run>>,
        count,
      );
      batches.push({
        size,
        raw: median(b.raw.map((run) => run.rate)),
        rawCpuUs: median(b.raw.map((run) => run.clientCpuUs)),
        bare: figures(b.bare),
        gateway: figures(b.gateway),
        ratio: perRound(b.gateway, b.raw, (run) => run.rate),
        overBare: perRound(b.gateway, b.bare, (run) => run.rate),
        bareOverRaw: perRound(b.bare, b.raw, (run) => run.rate),
        ...(b.baseline ? { baseline: overBaseline(b.gateway, b.baseline) } : {}),
      });
    }
    const metricsCounted = await countedByMetrics(gateway);
    const servedRequests = gateway.requests;
    await gateway.stop();
    const roundOf = (run: Run) => ({
      rate: run.rate,
      cpuUs: run.cpuUs,
      clientCpuUs: run.clientCpuUs,
      p99: p99(run),
    });
    return {
      jobs: options.jobs,
      rounds: options.rounds,
      connections,
      batchConcurrency,
      gatewaySetup: {
        logLevel: options.logLevel ?? 'info (the default)',
        nodeOptions: gatewayFlags,
        // Counted after the gateway has stopped and flushed its buffered log.
        logLinesPerRequest: gateway.output.lines / servedRequests,
        logBytesPerRequest: gateway.output.bytes / servedRequests,
        rateLimit: RATE_LIMIT,
        metricsCounted,
        singleRequests,
      },
      single: {
        raw: median(s.raw.map((run) => run.rate)),
        rawCpuUs: median(s.raw.map((run) => run.clientCpuUs)),
        bare: figures(s.bare),
        gateway: figures(s.gateway),
        overBare: perRound(s.gateway, s.bare, (run) => run.rate),
        overRaw: perRound(s.gateway, s.raw, (run) => run.rate),
        p99OverBare: perRound(s.gateway, s.bare, p99),
        rounds: s.raw.map((run, i) => ({
          raw: run.rate,
          bare: roundOf(s.bare[i] as Run),
          gateway: roundOf(s.gateway[i] as Run),
        })),
        ...(workers && s.workers
          ? {
              workers: {
                count: workerCount,
                figures: figures(s.workers),
                overGateway: perRound(s.workers, s.gateway, (run) => run.rate),
                rounds: s.workers.map((run) => run.rate),
              },
            }
          : {}),
        ...(baseline && options.baseline && s.baseline
          ? {
              baseline: {
                main: options.baseline,
                nodeOptions: baselineFlags,
                ...overBaseline(s.gateway, s.baseline),
                rounds: s.baseline.map((run) => ({ rate: run.rate, cpuUs: run.cpuUs })),
              },
            }
          : {}),
      },
      batches,
    };
  } finally {
    await clean().catch(() => {});
    await Promise.all([raw, ...views].map((queue) => queue.close()));
    connection.disconnect();
    await Promise.all([gateway.stop(), bare.stop(), workers?.stop(), baseline?.stop()]);
  }
}

const ms = (value: number) => `${value.toFixed(value < 10 ? 2 : 1)} ms`;
const us = (value: number | undefined) => (value === undefined ? 'n/a' : `${Math.round(value)} µs`);
const rate = (value: number) => Math.round(value).toLocaleString('en-US');

/** The gateway's targets: throughput and p99 against the bare floor, batches against raw `addBulk`. */
export interface GatewayTargets {
  /** Minimum gateway/bare throughput, one job per request. */
  single: number;
  /** Maximum gateway/bare p99, one job per request. */
  p99: number;
  /** Minimum gateway/raw throughput, batches. */
  batch: number;
}

/** The result as `pnpm bench` prints it: the rounds, then medians with each ratio against its target. */
export function describeGatewayThroughput(
  result: GatewayThroughputResult,
  targets: GatewayTargets = { single: 0.85, p99: 1.5, batch: 1.0 },
): string {
  const verdict = (ok: boolean, target: string) => `(target ${target}: ${ok ? 'met' : 'MISSED'})`;
  const { single, batches, gatewaySetup: setup } = result;
  const pad = (text: string, width: number) => text.padStart(width);
  const row = (cells: string[]) =>
    `  ${cells.map((cell, i) => pad(cell, [5, 11, 11, 11, 8, 7, 9, 9, 9, 9][i] ?? 9)).join(' ')}`;
  const server = (name: string, figures: ServerFigures, unit = 'request') =>
    `  ${name.padEnd(28)} ${pad(formatRate(figures.rate), 15)}   CPU ${us(figures.cpuUs)}/${unit} (load client ${us(figures.clientCpuUs)}), p50 ${ms(figures.p50)}, p99 ${ms(figures.p99)}`;
  const rawLine = (name: string, jobsPerSecond: number, cpuUs: number) =>
    `  ${name.padEnd(28)} ${pad(formatRate(jobsPerSecond), 15)}   CPU ${us(cpuUs)}/job (in the bench process)`;
  return [
    `gateway vs bare Fastify vs raw BullMQ, one job per request, ${rate(result.jobs)} jobs per run, ` +
      `${result.connections} keep-alive connections / adds in flight, ${result.rounds} interleaved rounds`,
    `  the gateway as a user runs it: node ${[...setup.nodeOptions, ''].join(' ')}main.js; ` +
      `LOG_LEVEL ${setup.logLevel}: ${setup.logLinesPerRequest.toFixed(2)} log lines and ` +
      `${Math.round(setup.logBytesPerRequest)} bytes per request to a drained pipe; API key auth; ` +
      `rate limit ${rate(setup.rateLimit.max)} per ${setup.rateLimit.timeWindowMs} ms; ` +
      `metrics on (/metrics counted ${rate(setup.metricsCounted)} of ${rate(setup.singleRequests)} single-job requests)`,
    row([
      'round',
      'raw jobs/s',
      'bare jobs/s',
      'gw jobs/s',
      'gw/bare',
      'gw/raw',
      'bare CPU',
      'gw CPU',
      'bare p99',
      'gw p99',
    ]),
    ...single.rounds.map((round, i) =>
      row([
        String(i + 1),
        rate(round.raw),
        rate(round.bare.rate),
        rate(round.gateway.rate),
        (round.gateway.rate / round.bare.rate).toFixed(2),
        (round.gateway.rate / round.raw).toFixed(2),
        us(round.bare.cpuUs),
        us(round.gateway.cpuUs),
        ms(round.bare.p99),
        ms(round.gateway.p99),
      ]),
    ),
    '  medians over rounds:',
    rawLine('raw queue.add', single.raw, single.rawCpuUs),
    server('bare Fastify POST /jobs', single.bare),
    server('gateway POST /jobs', single.gateway),
    `  gateway/bare                 ${single.overBare.toFixed(2)} ${verdict(single.overBare >= targets.single, `>= ${targets.single}`)}`,
    `  gateway/bare p99             ${single.p99OverBare.toFixed(2)} ${verdict(single.p99OverBare <= targets.p99, `<= ${targets.p99}`)}`,
    `  gateway/raw                  ${single.overRaw.toFixed(2)}`,
    ...(single.workers
      ? [
          `gateway with GATEWAY_WORKERS=${single.workers.count} (${availableParallelism()} cores, shared with Redis and the load client), same rounds:`,
          `  per round                    ${single.workers.rounds.map((value) => rate(value)).join(', ')} jobs/s`,
          server('gateway POST /jobs', single.workers.figures),
          `  workers/one process          ${single.workers.overGateway.toFixed(2)}`,
        ]
      : [`gateway with GATEWAY_WORKERS: not measured (${availableParallelism()} core)`]),
    ...(single.baseline
      ? [
          `baseline gateway node ${[...single.baseline.nodeOptions, ''].join(' ')}${single.baseline.main}, same rounds:`,
          `  per round                    ${single.baseline.rounds.map((r) => `${rate(r.rate)} jobs/s ${us(r.cpuUs)}`).join(', ')}`,
          server('baseline POST /jobs', single.baseline.figures),
          `  gateway/baseline             ${single.baseline.rateRatio.toFixed(2)} jobs/s, ${single.baseline.cpuRatio === undefined ? 'n/a' : single.baseline.cpuRatio.toFixed(2)} CPU per request`,
        ]
      : []),
    ...batches.flatMap((batch) => [
      `gateway vs raw BullMQ, batches of ${batch.size}, ${result.batchConcurrency} in flight:`,
      rawLine('raw queue.addBulk', batch.raw, batch.rawCpuUs),
      server('bare Fastify POST /jobs/batch', batch.bare, 'job'),
      server('gateway POST /jobs/batch', batch.gateway, 'job'),
      `  gateway/raw                  ${batch.ratio.toFixed(2)} ${verdict(batch.ratio >= targets.batch, `>= ${targets.batch}`)}`,
      `  gateway/bare                 ${batch.overBare.toFixed(2)}`,
      `  bare/raw                     ${batch.bareOverRaw.toFixed(2)}`,
      ...(batch.baseline
        ? [
            server('baseline POST /jobs/batch', batch.baseline.figures, 'job'),
            `  gateway/baseline             ${batch.baseline.rateRatio.toFixed(2)} jobs/s, ${batch.baseline.cpuRatio === undefined ? 'n/a' : batch.baseline.cpuRatio.toFixed(2)} CPU per job`,
          ]
        : []),
    ]),
  ].join('\n');
}
