import type { RedisClient } from '@jobfleet/service-kit';
import { DURATION_BUCKETS } from '@jobfleet/service-kit';
import type { Logger } from 'pino';
import type { Outcome } from './metrics.js';

/**
 * Per-tenant, per-UTC-day usage: for each queue and job name, how many
 * attempts ended in each outcome, and a histogram of their run times.
 *
 * Redis layout: one hash per tenant and day,
 * `<prefix>:jobfleet:usage:<tenant>:<YYYY-MM-DD>`, with fields
 * `<queue>|<job>|<outcome>` (attempt counts) and `<queue>|<job>|le|<i>` (attempts
 * whose run time fell in bucket `i` of {@link USAGE_BUCKETS}, the last being
 * +Inf). The run times of the first {@link USAGE_KEPT_RUNS} attempts that ran
 * are also kept exactly, in `<queue>|<job>|run|<n>` (seconds, n from 1), with
 * `<queue>|<job>|runs` counting the attempts that asked for a slot: a day with
 * few runs then reports measured run times, not bucket estimates. Each hash
 * expires `retentionDays` after its day ends.
 *
 * Writes are buffered and flushed in one pipeline per interval, so a job costs
 * no Redis round trip of its own; a crash loses at most one interval of usage.
 */
export const USAGE_BUCKETS = DURATION_BUCKETS;

export const OUTCOMES: readonly Outcome[] = ['completed', 'retried', 'dead_lettered', 'cancelled'];

/** How many run times per queue, job name and day are kept exactly, beside the buckets. */
export const USAGE_KEPT_RUNS = 5;

/**
 * Keeps run times exactly while a row has fewer than `limit`.
 * KEYS[1]: the usage hash. ARGV: `<queue>|<job>`, the limit, how many attempts
 * ran in this batch, then the run times of the batch's first ones (at most the
 * limit). The `runs` counter hands out slots atomically, so replicas flushing
 * at once never take the same one; a slot past the limit keeps nothing.
 */
const KEEP_RUNS = `
local limit = tonumber(ARGV[2])
local count = tonumber(ARGV[3])
local last = redis.call('HINCRBY', KEYS[1], ARGV[1] .. '|runs', count)
local first = last - count + 1
for i = 4, #ARGV do
  local slot = first + i - 4
  if slot > limit then break end
  redis.call('HSET', KEYS[1], ARGV[1] .. '|run|' .. slot, ARGV[i])
end
return last
`;

export function usageKey(prefix: string, tenant: string, day: string): string {
  return `${prefix}:jobfleet:usage:${tenant}:${day}`;
}

const DAY_MS = 86_400_000;
let cachedDay = { start: 0, end: 0, text: '' };

/** `YYYY-MM-DD` of a time, in UTC; formatted once per day, as it is asked for every job. */
export function utcDay(time: number): string {
  if (time < cachedDay.start || time >= cachedDay.end) {
    const start = time - (time % DAY_MS);
    cachedDay = { start, end: start + DAY_MS, text: new Date(start).toISOString().slice(0, 10) };
  }
  return cachedDay.text;
}

function bucketIndex(seconds: number): number {
  const index = USAGE_BUCKETS.findIndex((bound) => seconds <= bound);
  return index === -1 ? USAGE_BUCKETS.length : index;
}

export interface UsageLedgerOptions {
  connection: RedisClient;
  prefix: string;
  logger: Logger;
  retentionDays: number;
  flushMs?: number;
  /** Where a failed write is reported; default a warning per failure. The runtime bounds these per interval. */
  onWriteError?: (error: Error) => void;
}

/** Run times of one row waiting for the next flush: how many ran, and the first few of them. */
interface PendingRuns {
  count: number;
  seconds: number[];
}

export class UsageLedger {
  /** key → field → increment, waiting for the next flush. */
  private pending = new Map<string, Map<string, number>>();
  /** key → `<queue>|<job>` → run times, waiting for the next flush. */
  private pendingRuns = new Map<string, Map<string, PendingRuns>>();
  private readonly timer: NodeJS.Timeout;
  private flushing: Promise<void> = Promise.resolve();

  constructor(private readonly options: UsageLedgerOptions) {
    this.timer = setInterval(() => void this.flush(), options.flushMs ?? 1_000);
    this.timer.unref();
  }

  /** Counts one finished attempt; `seconds` is its run time when it ran. */
  record(
    tenant: string,
    queue: string,
    jobName: string,
    outcome: Outcome,
    seconds: number | undefined,
    at = Date.now(),
  ) {
    const key = usageKey(this.options.prefix, tenant, utcDay(at));
    let fields = this.pending.get(key);
    if (!fields) {
      fields = new Map();
      this.pending.set(key, fields);
    }
    const add = (field: string) => fields.set(field, (fields.get(field) ?? 0) + 1);
    add(`${queue}|${jobName}|${outcome}`);
    if (seconds !== undefined) {
      add(`${queue}|${jobName}|le|${bucketIndex(seconds)}`);
      this.addRuns(key, `${queue}|${jobName}`, 1, [seconds]);
    }
  }

  private addRuns(key: string, row: string, count: number, seconds: readonly number[]) {
    let rows = this.pendingRuns.get(key);
    if (!rows) {
      rows = new Map();
      this.pendingRuns.set(key, rows);
    }
    let runs = rows.get(row);
    if (!runs) {
      runs = { count: 0, seconds: [] };
      rows.set(row, runs);
    }
    runs.count += count;
    // Only the batch's first few can still get a slot.
    for (const value of seconds) if (runs.seconds.length < USAGE_KEPT_RUNS) runs.seconds.push(value);
  }

  /** Writes what is pending; increments that could not be written stay for the next flush. */
  flush(): Promise<void> {
    this.flushing = this.flushing.then(async () => {
      if (this.pending.size === 0) return;
      const batch = this.pending;
      const runsBatch = this.pendingRuns;
      this.pending = new Map();
      this.pendingRuns = new Map();
      // Standalone: one transaction, applied whole or not at all. Redis Cluster: one per
      // tenant-day key, as a transaction cannot span slots; each is still whole or nothing.
      const connection = this.options.connection;
      const groups = connection.isCluster ? [...batch.keys()].map((key) => [key]) : [[...batch.keys()]];
      await Promise.all(groups.map((keys) => this.write(keys, batch, runsBatch)));
    });
    return this.flushing;
  }

  private async write(
    keys: readonly string[],
    batch: Map<string, Map<string, number>>,
    runsBatch: Map<string, Map<string, PendingRuns>>,
  ): Promise<void> {
    const pipeline = this.options.connection.multi();
    for (const key of keys) {
      const fields = batch.get(key) ?? new Map<string, number>();
      for (const [field, increment] of fields) pipeline.hincrby(key, field, increment);
      for (const [row, runs] of runsBatch.get(key) ?? []) {
        const seconds = runs.seconds.map((value) => String(Math.round(value * 1e6) / 1e6));
        pipeline.eval(KEEP_RUNS, 1, key, row, USAGE_KEPT_RUNS, runs.count, ...seconds);
      }
      const day = key.slice(-10);
      const expiresAt = Date.parse(`${day}T00:00:00Z`) / 1000 + (this.options.retentionDays + 1) * 86_400;
      pipeline.expireat(key, Math.ceil(expiresAt));
    }
    try {
      const results = (await pipeline.exec()) ?? [];
      if (results.some(([error]) => error)) throw results.find(([error]) => error)?.[0];
    } catch (err) {
      if (this.options.onWriteError) this.options.onWriteError(err as Error);
      else this.options.logger.warn({ err }, 'could not write usage; will retry');
      // The transaction did not apply: keep its increments for the next flush.
      for (const key of keys) {
        for (const [field, increment] of batch.get(key) ?? []) {
          const current = this.pending.get(key) ?? new Map<string, number>();
          current.set(field, (current.get(field) ?? 0) + increment);
          this.pending.set(key, current);
        }
        for (const [row, runs] of runsBatch.get(key) ?? []) this.addRuns(key, row, runs.count, runs.seconds);
      }
    }
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
  }
}

/** One queue and job name's usage on one day. */
export interface UsageRow {
  queue: string;
  jobName: string;
  counts: Record<Outcome, number>;
  /** Attempts per run-time bucket of {@link USAGE_BUCKETS}, the last being +Inf. */
  buckets: number[];
  /**
   * Exact run times in seconds of the first attempts that ran (at most
   * {@link USAGE_KEPT_RUNS}), in the order they were recorded. When there are
   * as many as the buckets count, they are every run of the day.
   */
  runs?: number[];
}

/** A tenant's usage on one UTC day, sorted by queue and job name. */
export async function readUsage(
  client: RedisClient,
  prefix: string,
  tenant: string,
  day: string,
): Promise<UsageRow[]> {
  const hash = await client.hgetall(usageKey(prefix, tenant, day));
  const rows = new Map<string, UsageRow>();
  const runs: Array<{ id: string; slot: number; seconds: number }> = [];
  for (const [field, value] of Object.entries(hash)) {
    const [queue = '', jobName = '', kind = '', index] = field.split('|');
    const id = `${queue}|${jobName}`;
    let row = rows.get(id);
    if (!row) {
      row = {
        queue,
        jobName,
        counts: { completed: 0, retried: 0, dead_lettered: 0, cancelled: 0 },
        buckets: new Array(USAGE_BUCKETS.length + 1).fill(0),
      };
      rows.set(id, row);
    }
    if (kind === 'le' && index !== undefined) row.buckets[Number(index)] = Number(value);
    else if (kind === 'run' && index !== undefined)
      runs.push({ id, slot: Number(index), seconds: Number(value) });
    else if ((OUTCOMES as string[]).includes(kind)) row.counts[kind as Outcome] = Number(value);
  }
  runs.sort((a, b) => a.slot - b.slot);
  for (const run of runs) {
    const row = rows.get(run.id);
    if (!row) continue;
    row.runs ??= [];
    row.runs.push(run.seconds);
  }
  return [...rows.values()].sort(
    (a, b) => a.queue.localeCompare(b.queue) || a.jobName.localeCompare(b.jobName),
  );
}

/**
 * The `q` quantile (0–1) of a bucketed histogram in seconds, interpolated
 * linearly inside its bucket as Prometheus' `histogram_quantile` does; `null`
 * when empty. A quantile in the +Inf bucket is reported as the last finite bound.
 */
export function quantileFromBuckets(buckets: readonly number[], q: number): number | null {
  const total = buckets.reduce((sum, n) => sum + n, 0);
  if (total === 0) return null;
  const rank = q * total;
  let seen = 0;
  for (let i = 0; i < buckets.length; i++) {
    const count = buckets[i] ?? 0;
    if (seen + count >= rank && count > 0) {
      const upper = USAGE_BUCKETS[i];
      if (upper === undefined) return USAGE_BUCKETS[USAGE_BUCKETS.length - 1] ?? null;
      const lower = i === 0 ? 0 : (USAGE_BUCKETS[i - 1] ?? 0);
      return lower + (upper - lower) * ((rank - seen) / count);
    }
    seen += count;
  }
  return USAGE_BUCKETS[USAGE_BUCKETS.length - 1] ?? null;
}

/**
 * The `q` quantile (0–1) of exact run times, by nearest rank: the smallest
 * run time that at least `q` of the runs do not exceed, so it is always one
 * of the measured values; `null` when there are none.
 */
export function quantileOfRuns(runs: readonly number[], q: number): number | null {
  if (runs.length === 0) return null;
  const sorted = [...runs].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil(q * sorted.length));
  return sorted[Math.min(rank, sorted.length) - 1] ?? null;
}

/** Whether `row.runs` holds every run the row's buckets count, so its quantiles can be exact. */
export function hasEveryRun(row: Pick<UsageRow, 'buckets' | 'runs'>): boolean {
  const total = row.buckets.reduce((sum, n) => sum + n, 0);
  return total > 0 && row.runs?.length === total;
}
