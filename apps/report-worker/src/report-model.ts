import {
  hasEveryRun,
  quantileFromBuckets,
  quantileOfRuns,
  USAGE_KEPT_RUNS,
  type UsageRow,
} from '@jobfleet/worker-runtime';

/** One row of a report: one queue and job name on the report's day. */
export interface ReportRow {
  queue: string;
  jobName: string;
  completed: number;
  /** Attempts that failed and were retried. */
  retried: number;
  deadLettered: number;
  cancelled: number;
  /** Median run time of an attempt, seconds; `null` when no attempt ran. */
  p50Seconds: number | null;
  p95Seconds: number | null;
  /**
   * How the quantiles were found: `measured` from the exact run time of every
   * attempt (days with up to {@link USAGE_KEPT_RUNS} runs), `estimated` from
   * the run-time buckets; `null` when no attempt ran.
   */
  durations: DurationSource | null;
}

export type DurationSource = 'measured' | 'estimated';

export interface ReportTotals {
  completed: number;
  retried: number;
  deadLettered: number;
  cancelled: number;
  /** Jobs that finished: completed, dead-lettered or cancelled. */
  jobs: number;
  /** Attempts counted: the jobs plus their retried attempts. */
  attempts: number;
}

/** Jobs finished per queue, largest first: the PDF's bar chart. */
export interface QueueBar {
  queue: string;
  completed: number;
  deadLettered: number;
  cancelled: number;
  jobs: number;
}

/** Everything a renderer needs; plain data, so it crosses into the sandbox by structured clone. */
export interface ReportModel {
  tenant: string;
  /** The report's UTC day, `YYYY-MM-DD`. */
  date: string;
  rows: ReportRow[];
  totals: ReportTotals;
  queues: QueueBar[];
  /** When the report's job became due (ISO 8601): the PDF's creation date, so a re-render is byte-identical. */
  createdAt: string;
}

/** Durations are rounded to the microsecond. */
export function roundSeconds(value: number | null): number | null {
  return value === null ? null : Math.round(value * 1e6) / 1e6;
}

/**
 * A row's p50 and p95 run times. When the ledger kept every run's time (a day
 * with few runs) they are the measured values, by nearest rank; otherwise
 * they are estimated from the run-time histogram, interpolated inside a
 * bucket as Prometheus' `histogram_quantile` does — which for a handful of
 * runs reads wrong (one 528 ms run would show a p50 of 750 ms, the middle of
 * its 0.5–1 s bucket).
 */
export function rowQuantiles(
  row: Pick<UsageRow, 'buckets' | 'runs'>,
): Pick<ReportRow, 'p50Seconds' | 'p95Seconds' | 'durations'> {
  if (hasEveryRun(row)) {
    const runs = row.runs ?? [];
    return {
      p50Seconds: roundSeconds(quantileOfRuns(runs, 0.5)),
      p95Seconds: roundSeconds(quantileOfRuns(runs, 0.95)),
      durations: 'measured',
    };
  }
  const p50Seconds = roundSeconds(quantileFromBuckets(row.buckets, 0.5));
  return {
    p50Seconds,
    p95Seconds: roundSeconds(quantileFromBuckets(row.buckets, 0.95)),
    durations: p50Seconds === null ? null : 'estimated',
  };
}

/** The report of one tenant's day from the usage ledger's rows (sorted by queue, then job name). */
export function buildReportModel(
  tenant: string,
  date: string,
  usage: UsageRow[],
  createdAt: Date,
): ReportModel {
  const rows: ReportRow[] = usage.map((row) => ({
    queue: row.queue,
    jobName: row.jobName,
    completed: row.counts.completed,
    retried: row.counts.retried,
    deadLettered: row.counts.dead_lettered,
    cancelled: row.counts.cancelled,
    ...rowQuantiles(row),
  }));
  const totals: ReportTotals = {
    completed: 0,
    retried: 0,
    deadLettered: 0,
    cancelled: 0,
    jobs: 0,
    attempts: 0,
  };
  const byQueue = new Map<string, QueueBar>();
  for (const row of rows) {
    totals.completed += row.completed;
    totals.retried += row.retried;
    totals.deadLettered += row.deadLettered;
    totals.cancelled += row.cancelled;
    let bar = byQueue.get(row.queue);
    if (!bar) {
      bar = { queue: row.queue, completed: 0, deadLettered: 0, cancelled: 0, jobs: 0 };
      byQueue.set(row.queue, bar);
    }
    bar.completed += row.completed;
    bar.deadLettered += row.deadLettered;
    bar.cancelled += row.cancelled;
    bar.jobs += row.completed + row.deadLettered + row.cancelled;
  }
  totals.jobs = totals.completed + totals.deadLettered + totals.cancelled;
  totals.attempts = totals.jobs + totals.retried;
  const queues = [...byQueue.values()].sort((a, b) => b.jobs - a.jobs || a.queue.localeCompare(b.queue));
  return { tenant, date, rows, totals, queues, createdAt: createdAt.toISOString() };
}
