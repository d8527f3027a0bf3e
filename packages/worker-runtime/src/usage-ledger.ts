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
  for (let i = 0; i < USAGE_BUCKETS.length; i++) if (seconds <= (USAGE_BUCKETS[i] as number)) return i;
  return USAGE_BUCKETS.length;
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

/**
 * One row's (`<queue>|<job>`) usage waiting for the next flush: attempts per
 * outcome (in {@link OUTCOMES} order), per run-time bucket, and how many ran
 * with the first few of their run times. Plain numbers, as `record` runs for
 * every job: the hash fields are named only when a flush writes them.
 */
interface PendingRow {
  outcomes: number[];
  buckets: number[];
  count: number;
  seconds: number[];
}

const OUTCOME_INDEX: Readonly<Record<Outcome, number>> = {
  completed: 0,
  retried: 1,
  dead_lettered: 2,
  cancelled: 3,
};

const emptyRow = (): PendingRow => ({
  outcomes: new Array(OUTCOMES.length).fill(0),
  buckets: new Array(USAGE_BUCKETS.length + 1).fill(0),
  count: 0,
  seconds: [],
});

/** Adds `from` into `into`; of the run times, only the first few can still get a slot. */
function addRow(into: PendingRow, from: PendingRow): void {
  for (let i = 0; i < from.outcomes.length; i++)
    into.outcomes[i] = (into.outcomes[i] ?? 0) + (from.outcomes[i] ?? 0);
  for (let i = 0; i < from.buckets.length; i++)
    into.buckets[i] = (into.buckets[i] ?? 0) + (from.buckets[i] ?? 0);
  into.count += from.count;
  for (const value of from.seconds) if (into.seconds.length < USAGE_KEPT_RUNS) into.seconds.push(value);
}

export class UsageLedger {
  /** key → `<queue>|<job>` → usage, waiting for the next flush. */
  private pending = new Map<string, Map<string, PendingRow>>();
  /** tenant → its hash key of the day last seen, built once a day rather than per job. */
  private readonly keys = new Map<string, { day: string; key: string }>();
  /** queue → job name → `<queue>|<job>`. */
  private readonly rowNames = new Map<string, Map<string, string>>();
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
    const day = utcDay(at);
    let cached = this.keys.get(tenant);
    if (cached?.day !== day) {
      cached = { day, key: usageKey(this.options.prefix, tenant, day) };
      this.keys.set(tenant, cached);
    }
    let rows = this.pending.get(cached.key);
    if (!rows) {
      rows = new Map();
      this.pending.set(cached.key, rows);
    }
    const name = this.rowName(queue, jobName);
    let row = rows.get(name);
    if (!row) {
      row = emptyRow();
      rows.set(name, row);
    }
    (row.outcomes[OUTCOME_INDEX[outcome]] as number) += 1;
    if (seconds !== undefined) {
      (row.buckets[bucketIndex(seconds)] as number) += 1;
      row.count += 1;
      if (row.seconds.length < USAGE_KEPT_RUNS) row.seconds.push(seconds);
    }
  }

  private rowName(queue: string, jobName: string): string {
    let names = this.rowNames.get(queue);
    if (!names) {
      names = new Map();
      this.rowNames.set(queue, names);
    }
    let name = names.get(jobName);
    if (name === undefined) {
      name = `${queue}|${jobName}`;
      names.set(jobName, name);
    }
    return name;
  }

  /** Writes what is pending; increments that could not be written stay for the next flush. */
  flush(): Promise<void> {
    this.flushing = this.flushing.then(async () => {
      if (this.pending.size === 0) return;
      const batch = this.pending;
      this.pending = new Map();
      // Standalone: one transaction, applied whole or not at all. Redis Cluster: one per
      // tenant-day key, as a transaction cannot span slots; each is still whole or nothing.
      const connection = this.options.connection;
      const groups = connection.isCluster ? [...batch.keys()].map((key) => [key]) : [[...batch.keys()]];
      await Promise.all(groups.map((keys) => this.write(keys, batch)));
    });
    return this.flushing;
  }

  private async write(keys: readonly string[], batch: Map<string, Map<string, PendingRow>>): Promise<void> {
    const pipeline = this.options.connection.multi();
    for (const key of keys) {
      const rows = batch.get(key) ?? new Map<string, PendingRow>();
      for (const [name, row] of rows) {
        row.outcomes.forEach((n, i) => {
          if (n > 0) pipeline.hincrby(key, `${name}|${OUTCOMES[i]}`, n);
        });
        row.buckets.forEach((n, i) => {
          if (n > 0) pipeline.hincrby(key, `${name}|le|${i}`, n);
        });
      }
      for (const [name, row] of rows) {
        if (row.count === 0) continue;
        const seconds = row.seconds.map((value) => String(Math.round(value * 1e6) / 1e6));
        pipeline.eval(KEEP_RUNS, 1, key, name, USAGE_KEPT_RUNS, row.count, ...seconds);
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
        for (const [name, row] of batch.get(key) ?? []) {
          let rows = this.pending.get(key);
          if (!rows) {
            rows = new Map();
            this.pending.set(key, rows);
          }
          let current = rows.get(name);
          if (!current) {
            current = emptyRow();
            rows.set(name, current);
          }
          addRow(current, row);
        }
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
