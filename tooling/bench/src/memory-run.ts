import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { emails } from '@jobfleet/queue-contracts';
import { freePort, startRedisServer, waitUntilReady } from '@jobfleet/test-utils';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { startSink } from './email-throughput.js';
import {
  BENCH_SECRET,
  GATEWAY_MAIN,
  GATEWAY_NODE_OPTIONS,
  JOB,
  percentile,
  RATE_LIMIT,
  type Run,
  type Server,
  SINGLE_PATH,
  serve,
  startServer,
} from './gateway-throughput.js';

/**
 * The memory run: `BENCH_ONLY=memory pnpm bench` (it is not in the default
 * set, as 1,000,000 jobs take minutes; `BENCH_MEMORY_JOBS` sets the count).
 *
 * Welcome jobs go through the built gateway (`apps/gateway/dist/main.js`, at
 * its defaults: `LOG_LEVEL=info` to a drained pipe, an API key with a rate
 * limit, metrics on; only `REDIS_COMMAND_TIMEOUT_MS` raised to 10 s, so a slow
 * moment of a shared host is not a 504) to the built e-mail worker (`apps/email-worker/dist/main.js`,
 * its defaults: the delivery ledger, 5 pooled SMTP connections, concurrency 40),
 * which sends them over SMTP to a sink in a thread of this process that accepts
 * every message at once. Everything runs on a redis-server of its own, so
 * `INFO memory` shows this run alone.
 *
 * Most jobs go as batches of 500 (so 1,000,000 take minutes, not an hour);
 * one in ten goes as a single-job POST over 64 keep-alive connections, spread
 * over the whole run, so that path is in the figures too. The producer keeps
 * at most `backlog` jobs posted but not yet delivered: Redis then holds what
 * retention keeps, not a queue growing faster than the worker drains it.
 *
 * Sampled every 250 ms: VmRSS of both processes (`/proc/<pid>/status`), the
 * worker's `nodejs_heap_size_used_bytes` (its `/metrics`), `used_memory` of
 * Redis and the messages the sink accepted. The figures are
 * taken at start (5% delivered, after warm-up), middle (50%), late (95%, still
 * under load, so comparable with the middle) and end (all completed, the
 * queue empty, the processes idle), with the maxima. One sample is at the
 * mercy of the garbage collector (RSS moves by tens of MB between two), so the
 * verdict compares parts of the run: a process is flat when its lowest RSS over
 * the last quarter (75–100% delivered) is within {@link RSS_RULE} of its lowest
 * over the first half after warm-up (5–50%). The lowest samples come just after
 * a collection, so they follow the live heap, which a leak raises; the peaks
 * follow when the collector happens to run (in a 400,000-job run the worker's
 * peak rose 22 MB from the first half to the second while its live heap, the
 * lowest `nodejs_heap_size_used_bytes` of each tenth, stayed at 36–39 MB), so
 * they are printed, not judged. The worker's used heap is judged as its RSS,
 * by its lowest samples, with {@link HEAP_RULE}. Redis's `used_memory` is exact: it is judged by its peak
 * over the second half (50–100%) against its peak over the first. At the
 * end the retained completed jobs are removed and the drop in `used_memory`
 * gives the bytes of each (the delivery ledger's record of each included: it
 * is a field of the job's hash).
 */

/** The built e-mail worker; `pnpm bench` builds every package first. */
const EMAIL_WORKER_MAIN = fileURLToPath(new URL('../../../apps/email-worker/dist/main.js', import.meta.url));
const BATCH_PATH = '/v1/queues/emails/jobs/batch';
const POLL_MS = 250;
/** No message delivered for this long while jobs are outstanding: the run is stuck. */
const STALL_MS = 60_000;
const MB = 1024 * 1024;

export interface MemoryRunOptions {
  /** Jobs through the gateway and the worker. */
  jobs: number;
  /** Keep-alive connections to the gateway, and single-job POSTs in flight. */
  connections?: number;
  /** Jobs per batch request. */
  batchSize?: number;
  /** Batch requests in flight. */
  batchConcurrency?: number;
  /** Share of the jobs posted one per request. */
  singleShare?: number;
  /** Most jobs posted but not yet delivered. */
  backlog?: number;
}

/** The figures at one point of the run. */
export interface MemorySample {
  /** Seconds since the first job was posted. */
  seconds: number;
  /** Messages the sink had accepted. */
  delivered: number;
  /** Jobs posted and not yet delivered (waiting or active in Redis, or on their way). */
  outstanding: number;
  /** VmRSS, bytes. */
  gatewayRss: number;
  workerRss: number;
  /** The worker's `nodejs_heap_size_used_bytes`, from its `/metrics`; `NaN` when it could not be read. */
  workerHeapUsed: number;
  /** Redis `used_memory`, bytes. */
  redisUsed: number;
}

export interface MemoryRunResult {
  jobs: number;
  singleJobs: number;
  batchJobs: number;
  batchSize: number;
  batchConcurrency: number;
  connections: number;
  backlog: number;
  /** Wall time from the first post until every job had completed. */
  seconds: number;
  start: MemorySample;
  middle: MemorySample;
  /** 95% delivered, the producer still posting. */
  late: MemorySample;
  end: MemorySample;
  /** Maxima over every sample of the run. */
  max: { gatewayRss: number; workerRss: number; workerHeapUsed: number; redisUsed: number };
  /** Every sample of the run, in order (one per 250 ms). */
  samples: MemorySample[];
  redis: {
    /** `used_memory` with the gateway and the worker ready, before any job. */
    baseline: number;
    /** `used_memory_peak` at the end: the most the server ever held. */
    peak: number;
    /** The contract's `removeOnComplete`/`removeOnFail` counts. */
    keepCompleted: number;
    keepFailed: number;
    retainedCompleted: number;
    retainedFailed: number;
    /** The drop in `used_memory` when the retained completed jobs were removed, per job. */
    bytesPerRetainedJob: number;
    /** `used_memory` left above the baseline with them removed: event streams, metrics, counters. */
    residual: number;
  };
  /** The gateway's figures for each kind of request, over the whole run. */
  single: RequestFigures;
  batch: RequestFigures;
}

export interface RequestFigures {
  p50: number;
  p99: number;
  /** Gateway CPU per job (µs); `undefined` off Linux. */
  cpuUsPerJob: number | undefined;
}

/** Resident set size (bytes) of a process, from `/proc/<pid>/status`; `NaN` off Linux. */
export function rssBytes(pid: number | undefined): number {
  try {
    const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) * 1024 : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

/** The value of an unlabelled series in Prometheus's text format; `NaN` when it is not there. */
export function metricValue(text: string, name: string): number {
  const match = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
  return match ? Number(match[1]) : Number.NaN;
}

/** The worker's used V8 heap (bytes) from its `/metrics`; `NaN` when it does not answer in time. */
async function heapUsed(metricsUrl: string): Promise<number> {
  try {
    const response = await fetch(metricsUrl, { signal: AbortSignal.timeout(2_000) });
    return metricValue(await response.text(), 'nodejs_heap_size_used_bytes');
  } catch {
    return Number.NaN;
  }
}

/** A field of `INFO memory` (bytes). */
export function infoField(info: string, field: string): number {
  const match = new RegExp(`^${field}:(\\d+)\\r?$`, 'm').exec(info);
  if (!match) throw new Error(`INFO memory has no ${field}`);
  return Number(match[1]);
}

/**
 * The lowest and the largest figure over the samples with `from` ≤ delivered
 * < `to` (`to` may be `Infinity`), leaving out those it is `NaN` in; `NaN` when none.
 */
export function rangeOf(
  samples: readonly MemorySample[],
  from: number,
  to: number,
  of: (sample: MemorySample) => number,
): { floor: number; peak: number } {
  let floor = Number.NaN;
  let peak = Number.NaN;
  for (const sample of samples) {
    if (sample.delivered < from || sample.delivered >= to) continue;
    const value = of(sample);
    // A figure that could not be read (a scrape that timed out) is left out.
    if (Number.isNaN(value)) continue;
    floor = Number.isNaN(floor) ? value : Math.min(floor, value);
    peak = Number.isNaN(peak) ? value : Math.max(peak, value);
  }
  return { floor, peak };
}

/** How much a figure may grow from one part of the run to a later one and still count as noise: a share of the earlier figure, or a floor. */
export interface GrowthRule {
  relative: number;
  absolute: number;
}

/** Process RSS: 10% of the earlier peak or 20 MB, whichever is more (GC timing alone moves RSS by tens of MB). */
export const RSS_RULE: GrowthRule = { relative: 0.1, absolute: 20 * MB };
/** Redis queue memory: 10% or 5 MB (the event streams are trimmed approximately, in steps). */
export const REDIS_RULE: GrowthRule = { relative: 0.1, absolute: 5 * MB };
/** The worker's used heap: 10% or 8 MB (its lowest per tenth of a 400,000-job run moved within 3 MB). */
export const HEAP_RULE: GrowthRule = { relative: 0.1, absolute: 8 * MB };

export interface Growth {
  /** later − earlier, bytes (negative: it shrank). */
  delta: number;
  /** The most `delta` may be under the rule. */
  limit: number;
  flat: boolean;
}

export function growth(earlier: number, later: number, rule: GrowthRule): Growth {
  const limit = Math.max(rule.relative * earlier, rule.absolute);
  const delta = later - earlier;
  return { delta, limit, flat: delta <= limit };
}

/** The jobs of each part of one round of posting: one single-job part, then batches. */
export function planRound(
  remaining: number,
  options: { roundJobs: number; singleShare: number; batchSize: number },
): { single: number; batches: number[] } {
  const round = Math.min(options.roundJobs, remaining);
  const single = Math.round(round * options.singleShare);
  const batches: number[] = [];
  for (let left = round - single; left > 0; left -= options.batchSize)
    batches.push(Math.min(options.batchSize, left));
  return { single, batches };
}

interface WorkerProcess {
  readonly pid: number | undefined;
  /** Its Prometheus endpoint. */
  readonly metricsUrl: string;
  stop(): Promise<void>;
}

/** The e-mail worker as its own process, ready on `/health/ready` of its metrics port. */
async function startWorker(env: Record<string, string>): Promise<WorkerProcess> {
  if (!existsSync(EMAIL_WORKER_MAIN)) {
    throw new Error(
      `${EMAIL_WORKER_MAIN} is missing: build first (pnpm turbo run build --filter=@jobfleet/bench...)`,
    );
  }
  const port = await freePort();
  const child: ChildProcess = spawn(process.execPath, [EMAIL_WORKER_MAIN], {
    env: { PATH: process.env.PATH ?? '', HOST: '127.0.0.1', METRICS_PORT: String(port), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // Its log goes to a drained pipe, as under a container runtime.
  child.stdout?.resume();
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  await waitUntilReady(`http://127.0.0.1:${port}`, {
    timeoutMs: 30_000,
    intervalMs: 50,
    child,
    output: () => stderr,
  }).catch((error: Error) => {
    child.kill('SIGKILL');
    throw new Error(`the e-mail worker: ${error.message}`);
  });
  return {
    pid: child.pid,
    metricsUrl: `http://127.0.0.1:${port}/metrics`,
    stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}

const figuresOf = (runs: Run[], cpuUs: number | undefined): RequestFigures => {
  const latencies = runs.flatMap((run) => run.latencies);
  return { p50: percentile(latencies, 50), p99: percentile(latencies, 99), cpuUsPerJob: cpuUs };
};

/** CPU µs per job over several runs, weighted by their jobs. */
const cpuPerJob = (runs: Array<{ run: Run; jobs: number }>): number | undefined => {
  if (runs.some(({ run }) => run.cpuUs === undefined)) return undefined;
  const jobs = runs.reduce((sum, { jobs }) => sum + jobs, 0);
  return runs.reduce((sum, { run, jobs }) => sum + (run.cpuUs ?? 0) * jobs, 0) / jobs;
};

export async function memoryRun(options: MemoryRunOptions): Promise<MemoryRunResult> {
  const {
    jobs,
    connections = 64,
    batchSize = 500,
    batchConcurrency = 4,
    singleShare = 0.1,
    backlog = 10_000,
  } = options;
  const prefix = 'bench-mem';
  const redisServer = await startRedisServer({ args: ['--maxmemory', '2gb'] });
  const redis = new Redis(redisServer.url, { maxRetriesPerRequest: null });
  const sink = await startSink();
  const stops: Array<() => Promise<unknown>> = [
    () => redisServer.stop(),
    async () => redis.disconnect(),
    () => sink.close(),
  ];
  try {
    const env = { REDIS_URL: redisServer.url, JOBFLEET_PREFIX: prefix };
    const keys = [{ id: 'bench', key: BENCH_SECRET, scopes: ['emails:enqueue'], rateLimit: RATE_LIMIT }];
    const gateway: Server = await startServer(
      'the gateway',
      GATEWAY_MAIN,
      // 750 ms by default: on a busy 2-core host an addBulk of 500 can take longer, and a 504 would end the run.
      { ...env, GATEWAY_API_KEYS: JSON.stringify(keys), REDIS_COMMAND_TIMEOUT_MS: '10000' },
      GATEWAY_NODE_OPTIONS,
      connections,
    );
    stops.unshift(() => gateway.stop());
    const worker = await startWorker({
      ...env,
      SMTP_URL: `smtp://127.0.0.1:${sink.port}`,
      SMTP_STARTTLS: 'off',
    });
    stops.unshift(() => worker.stop());
    const queue = new Queue(emails.name, { connection: redis, prefix });
    stops.unshift(() => queue.close());

    const usedMemory = async () => infoField(await redis.info('memory'), 'used_memory');
    const redisBaseline = await usedMemory();
    const sinkBefore = await sink.count();

    // The poller: every POLL_MS one sample, the maxima, and a wake-up for the producer waiting on the backlog.
    const started = performance.now();
    let posted = 0;
    const max = { gatewayRss: 0, workerRss: 0, workerHeapUsed: 0, redisUsed: 0 };
    const samples: MemorySample[] = [];
    let latest: MemorySample | undefined;
    let lastProgress = performance.now();
    const waiters: Array<() => void> = [];
    const sample = async (): Promise<MemorySample> => {
      const [delivered, redisUsed, workerHeapUsed] = await Promise.all([
        sink.count(),
        usedMemory(),
        heapUsed(worker.metricsUrl),
      ]);
      const next = {
        seconds: (performance.now() - started) / 1_000,
        delivered: delivered - sinkBefore,
        outstanding: posted - (delivered - sinkBefore),
        gatewayRss: rssBytes(gateway.pid),
        workerRss: rssBytes(worker.pid),
        workerHeapUsed,
        redisUsed,
      };
      max.gatewayRss = Math.max(max.gatewayRss, next.gatewayRss);
      max.workerRss = Math.max(max.workerRss, next.workerRss);
      if (!Number.isNaN(workerHeapUsed)) max.workerHeapUsed = Math.max(max.workerHeapUsed, workerHeapUsed);
      max.redisUsed = Math.max(max.redisUsed, next.redisUsed);
      if (next.delivered !== latest?.delivered) lastProgress = performance.now();
      latest = next;
      samples.push(next);
      return next;
    };
    const milestones = {
      start: Math.ceil(jobs * 0.05),
      middle: Math.ceil(jobs * 0.5),
      late: Math.ceil(jobs * 0.95),
    };
    const taken: { start?: MemorySample; middle?: MemorySample; late?: MemorySample } = {};
    let pollError: unknown;
    let polling = true;
    const poller = (async () => {
      while (polling) {
        try {
          const now = await sample();
          if (!taken.start && now.delivered >= milestones.start) taken.start = now;
          if (!taken.middle && now.delivered >= milestones.middle) taken.middle = now;
          if (!taken.late && now.delivered >= milestones.late) taken.late = now;
          if (performance.now() - lastProgress > STALL_MS) throw new Error('no message delivered for 60 s');
        } catch (error) {
          pollError = error;
        }
        for (const wake of waiters.splice(0)) wake();
        if (pollError) return;
        await new Promise((resolve) => setTimeout(resolve, POLL_MS));
      }
    })();
    stops.unshift(async () => {
      polling = false;
      await poller;
    });
    const nextPoll = () => {
      if (pollError) throw pollError;
      return new Promise<void>((resolve) => waiters.push(resolve));
    };
    /** Waits until `more` jobs can be posted without more than `backlog` outstanding. */
    const room = async (more: number) => {
      while (posted + Math.min(more, backlog) - (latest?.delivered ?? 0) > backlog) await nextPoll();
    };

    const singles: Array<{ run: Run; jobs: number }> = [];
    const batches: Array<{ run: Run; jobs: number }> = [];
    const batchBody = (size: number) =>
      JSON.stringify({ jobs: Array.from({ length: size }, () => JSON.parse(JOB)) });
    const fullBatch = batchBody(batchSize);
    const roundJobs = Math.max(batchSize * batchConcurrency * 2, Math.round(5_000 / singleShare) || 0);
    while (posted < jobs) {
      const plan = planRound(jobs - posted, { roundJobs, singleShare, batchSize });
      if (plan.single > 0) {
        await room(plan.single);
        posted += plan.single;
        const run = await serve(gateway, SINGLE_PATH, JOB, plan.single, connections);
        singles.push({ run, jobs: plan.single });
      }
      for (let i = 0; i < plan.batches.length; i += batchConcurrency) {
        const group = plan.batches.slice(i, i + batchConcurrency);
        const groupJobs = group.reduce((sum, size) => sum + size, 0);
        await room(groupJobs);
        posted += groupJobs;
        const full = group.filter((size) => size === batchSize).length;
        if (full > 0) {
          const run = await serve(gateway, BATCH_PATH, fullBatch, full, batchConcurrency, batchSize);
          batches.push({ run, jobs: full * batchSize });
        }
        for (const size of group.filter((size) => size !== batchSize)) {
          const run = await serve(gateway, BATCH_PATH, batchBody(size), 1, 1, size);
          batches.push({ run, jobs: size });
        }
      }
    }
    // Every message delivered, then every job completed and none left in any state that would keep it.
    while ((latest?.delivered ?? 0) < jobs) await nextPoll();
    for (;;) {
      const counts = await queue.getJobCounts(
        'waiting',
        'active',
        'delayed',
        'prioritized',
        'waiting-children',
      );
      if (Object.values(counts).every((count) => count === 0)) break;
      await nextPoll();
    }
    const seconds = (performance.now() - started) / 1_000;
    polling = false;
    await poller;
    if (pollError) throw pollError;
    const end = await sample();
    const start = taken.start ?? end;
    const middle = taken.middle ?? end;
    const late = taken.late ?? end;
    if (end.delivered !== jobs) throw new Error(`the sink accepted ${end.delivered} of ${jobs} messages`);

    // What each part of Redis costs: remove it and read the drop.
    const peak = infoField(await redis.info('memory'), 'used_memory_peak');
    const retainedCompleted = await queue.getCompletedCount();
    const retainedFailed = await queue.getFailedCount();
    const beforeClean = await usedMemory();
    while ((await queue.clean(0, 10_000, 'completed')).length > 0) {}
    const afterClean = await usedMemory();

    const singleJobs = singles.reduce((sum, { jobs }) => sum + jobs, 0);
    return {
      jobs,
      singleJobs,
      batchJobs: jobs - singleJobs,
      batchSize,
      batchConcurrency,
      connections,
      backlog,
      seconds,
      start,
      middle,
      late,
      end,
      max,
      samples,
      redis: {
        baseline: redisBaseline,
        peak,
        keepCompleted: keepCount(emails.defaultJobOptions.removeOnComplete),
        keepFailed: keepCount(emails.defaultJobOptions.removeOnFail),
        retainedCompleted,
        retainedFailed,
        bytesPerRetainedJob:
          retainedCompleted > 0 ? (beforeClean - afterClean) / retainedCompleted : Number.NaN,
        residual: afterClean - redisBaseline,
      },
      single: figuresOf(
        singles.map(({ run }) => run),
        cpuPerJob(singles),
      ),
      batch: figuresOf(
        batches.map(({ run }) => run),
        cpuPerJob(batches),
      ),
    };
  } finally {
    for (const stop of stops) await stop().catch(() => {});
  }
}

function keepCount(keep: unknown): number {
  if (typeof keep === 'number') return keep;
  if (keep && typeof keep === 'object' && 'count' in keep) return Number(keep.count);
  return Number.NaN;
}

const mb = (bytes: number) => `${(bytes / MB).toFixed(1)} MB`;
const signedMb = (bytes: number) => `${bytes >= 0 ? '+' : '−'}${(Math.abs(bytes) / MB).toFixed(1)} MB`;
const count = (value: number) => Math.round(value).toLocaleString('en-US');
const ms = (value: number) => `${value.toFixed(value < 10 ? 2 : 1)} ms`;
const us = (value: number | undefined) => (value === undefined ? 'n/a' : `${Math.round(value)} µs`);

/** How a figure is judged (see {@link memoryRun}): RSS by its lowest samples, Redis by its peaks. */
type Judged = 'floor' | 'peak';
/** The later part each is judged over, against 5–50%. */
const judgedPart: Record<Judged, { name: string; from: number; label: string }> = {
  floor: { name: 'lowest', from: 0.75, label: '75–100%' },
  peak: { name: 'peak', from: 0.5, label: '50–100%' },
};

function verdictLine(name: string, g: Growth, rule: GrowthRule, word: string, judged: Judged): string {
  const ruleText = `max(${Math.round(rule.relative * 100)}% of the first, ${mb(rule.absolute)})`;
  const { name: what, label } = judgedPart[judged];
  return `  ${name}: ${g.flat ? word : 'GROWING'} (${what} ${label} − ${what} 5–50% ${signedMb(g.delta)}; noise allowed ${ruleText} = ${mb(g.limit)})`;
}

/** The run as `pnpm bench` prints it: a table of start, middle, end and maxima, then verdicts and Redis's costs. */
export function describeMemoryRun(result: MemoryRunResult): string {
  const { start, middle, late, end, max, redis } = result;
  const columns = [22, 11, 12, 11, 11, 12, 13, 12, 13, 10, 13];
  const row = (cells: string[]) =>
    `  ${cells.map((cell, i) => (i === 0 ? cell.padEnd(columns[0] ?? 22) : cell.padStart(columns[i] ?? 12))).join(' ')}`;
  /** A figure over the parts of the run the table shows: the first half (after warm-up), the last quarter, the second half. */
  const partsOf = (of: (sample: MemorySample) => number) => ({
    first: rangeOf(result.samples, start.delivered, middle.delivered, of),
    floor: rangeOf(result.samples, judgedPart.floor.from * result.jobs, Number.POSITIVE_INFINITY, of),
    peak: rangeOf(result.samples, judgedPart.peak.from * result.jobs, Number.POSITIVE_INFINITY, of),
  });
  /** One figure of the table, its parts read once: its row and its verdict. */
  const figure = (
    name: string,
    of: (sample: MemorySample) => number,
    maximum: number,
    rule: GrowthRule,
    judged: Judged,
    word: string,
  ) => {
    const parts = partsOf(of);
    // From the first half to the later part `judged` is judged over.
    const grown = growth(parts.first[judged], parts[judged][judged], rule);
    return {
      row: row([
        name,
        ...[start, middle, late, end].map((sample) => mb(of(sample))),
        mb(parts.first.floor),
        mb(parts.floor.floor),
        mb(parts.first.peak),
        mb(parts.peak.peak),
        mb(maximum),
        `${signedMb(grown.delta)} ${judgedPart[judged].name}`,
      ]),
      verdict: verdictLine(name, grown, rule, word, judged),
    };
  };
  const figures = [
    figure('gateway RSS', (sample) => sample.gatewayRss, max.gatewayRss, RSS_RULE, 'floor', 'flat'),
    figure('worker RSS', (sample) => sample.workerRss, max.workerRss, RSS_RULE, 'floor', 'flat'),
    figure(
      'worker heap used',
      (sample) => sample.workerHeapUsed,
      max.workerHeapUsed,
      HEAP_RULE,
      'floor',
      'flat',
    ),
    figure('Redis used_memory', (sample) => sample.redisUsed, max.redisUsed, REDIS_RULE, 'peak', 'bounded'),
  ];
  const keptAll = result.jobs * redis.bytesPerRetainedJob;
  return [
    `memory run: ${count(result.jobs)} welcome jobs, gateway → e-mail worker → SMTP sink answering at once, ` +
      `own redis-server, ${result.seconds.toFixed(0)} s (${count(result.jobs / result.seconds)} jobs/s)`,
    `  posted: ${count(result.batchJobs)} in batches of ${result.batchSize} (${result.batchConcurrency} in flight), ` +
      `${count(result.singleJobs)} one per request (${result.connections} keep-alive connections); ` +
      `at most ${count(result.backlog)} jobs posted and not yet delivered`,
    row([
      '',
      `start (${Math.round((start.delivered / result.jobs) * 100)}%)`,
      'middle (50%)',
      'late (95%)',
      'end (100%)',
      'lowest 5–50%',
      `lowest ${judgedPart.floor.label}`,
      'peak 5–50%',
      `peak ${judgedPart.peak.label}`,
      'max',
      'growth',
    ]),
    ...figures.map((f) => f.row),
    row(['  jobs outstanding', ...[start, middle, late, end].map((s) => count(s.outstanding))]),
    row(['  at (s)', ...[start, middle, late, end].map((s) => s.seconds.toFixed(0))]),
    `verdicts (${count(result.samples.length)} samples; RSS and heap by their lowest samples, which follow the live heap, Redis by its peaks):`,
    ...figures.map((f) => f.verdict),
    `  Redis: ${mb(redis.baseline)} before the first job, ${mb(max.redisUsed)} at most in the samples, ` +
      `used_memory_peak ${mb(redis.peak)}; ${mb(end.redisUsed - redis.baseline)} above the baseline at the end`,
    `  retention (the emails contract: keep ${count(redis.keepCompleted)} completed, ${count(redis.keepFailed)} failed): ` +
      `${count(redis.retainedCompleted)} completed and ${count(redis.retainedFailed)} failed jobs kept at the end; ` +
      `${count(redis.bytesPerRetainedJob)} bytes per retained job, its delivery record included (the drop in used_memory when they were removed); ` +
      `keeping all ${count(result.jobs)} would take about ${mb(keptAll)}`,
    `  residual: ${mb(redis.residual)} above the baseline with them removed (event streams, metrics, counters)`,
    `  gateway: single-job POST p50 ${ms(result.single.p50)}, p99 ${ms(result.single.p99)}, CPU ${us(result.single.cpuUsPerJob)}/job; ` +
      `batch POST p50 ${ms(result.batch.p50)}, p99 ${ms(result.batch.p99)}, CPU ${us(result.batch.cpuUsPerJob)}/job`,
  ].join('\n');
}
