import { deadLetters } from '@jobfleet/queue-contracts';
import type { Job, Queue } from 'bullmq';
import { metricsPointsFor, perMinuteSeries } from './per-minute.js';
import type { DashboardQueue, DashboardQueues } from './queues.js';

/** The job states the overview counts, in the order it shows them. */
export const COUNTED_STATES = [
  'waiting',
  'prioritized',
  'active',
  'delayed',
  'failed',
  'completed',
  'waiting-children',
] as const;

export type CountedState = (typeof COUNTED_STATES)[number];

/** Minutes of history the charts show. */
export const CHART_MINUTES = 60;

/** Dead-letter record ids read at most per state to count records by source queue. */
export const DEAD_LETTER_SCAN_LIMIT = 10_000;

/** Records whose id does not name their source queue are read one by one, at most this many. */
const DEAD_LETTER_READ_LIMIT = 500;

export interface QueueOverview {
  name: string;
  description: string;
  paused: boolean;
  counts: Record<CountedState, number>;
  /** Jobs completed per minute over the last {@link CHART_MINUTES} minutes, oldest first. */
  completedPerMinute: number[];
  /** Jobs that failed for good per minute (retries are not failures), oldest first. */
  failedPerMinute: number[];
  /** How long the job next in line (or the oldest ready one) has waited; `null` when none waits. */
  oldestWaitingMs: number | null;
  /** Dead-letter records of this queue's jobs; `null` for the `dead-letters` queue itself. */
  deadLetters: number | null;
}

export interface FleetOverview {
  /** When it was read (epoch ms). */
  at: number;
  queues: QueueOverview[];
  /** More dead-letter records exist than were scanned: the per-queue numbers are lower bounds. */
  deadLettersTruncated: boolean;
}

/** When a waiting job became ready to run: added, or added with a delay that has passed. */
const readyAt = (job: Job) => job.timestamp + (job.opts.delay ?? 0);

/**
 * The age of the oldest waiting job: the one at the head of the wait list (FIFO,
 * so the oldest), and the next prioritized job (which runs first). A long wait
 * behind higher-priority jobs lower in the set is not seen: reading every
 * prioritized job would cost too much per refresh.
 */
async function oldestWaitingMs(queue: Queue, now: number): Promise<number | null> {
  const [head, prioritized] = await Promise.all([
    queue.getJobs(['wait'], 0, 0, true),
    queue.getJobs(['prioritized'], 0, 0, true),
  ]);
  const times = [...head, ...prioritized].filter(Boolean).map(readyAt);
  return times.length > 0 ? Math.max(0, now - Math.min(...times)) : null;
}

async function readQueue({ contract, queue }: DashboardQueue, now: number) {
  const [counts, paused, completed, failed, oldest] = await Promise.all([
    queue.getJobCounts(...COUNTED_STATES),
    queue.isPaused(),
    queue.getMetrics('completed', 0, metricsPointsFor(CHART_MINUTES)),
    queue.getMetrics('failed', 0, metricsPointsFor(CHART_MINUTES)),
    oldestWaitingMs(queue, now),
  ]);
  const byState = Object.fromEntries(COUNTED_STATES.map((s) => [s, counts[s] ?? 0])) as Record<
    CountedState,
    number
  >;
  return {
    name: contract.name,
    description: contract.description,
    paused,
    counts: byState,
    completedPerMinute: perMinuteSeries(completed, now, CHART_MINUTES),
    failedPerMinute: perMinuteSeries(failed, now, CHART_MINUTES),
    oldestWaitingMs: oldest,
  };
}

/** Dead-letter records counted by source queue, and how far the scan got. */
export interface DeadLetterScan {
  counts: Map<string, number>;
  /** Record ids read; fewer than the queue holds when it holds more than the scan limit. */
  scanned: number;
  /** Some records whose id names no source queue were left unread. */
  unreadRecords: boolean;
}

/**
 * Counts dead-letter records by source queue. Record ids are
 * `<queue>.<jobId>.<failedAt>` (queue names hold no `.`), so most records are
 * counted from their id alone; a record with any other id is read for its
 * `queue` field.
 */
export async function deadLettersBySource(
  dlq: Queue,
  sources: ReadonlySet<string>,
  limit = DEAD_LETTER_SCAN_LIMIT,
): Promise<DeadLetterScan> {
  const ids = await dlq.getRanges(
    ['wait', 'prioritized', 'active', 'delayed', 'failed', 'completed', 'waiting-children'],
    0,
    limit - 1,
  );
  const counts = new Map<string, number>();
  const add = (queue: string) => counts.set(queue, (counts.get(queue) ?? 0) + 1);
  const unnamed: string[] = [];
  for (const id of ids) {
    const source = id.slice(0, id.indexOf('.'));
    if (sources.has(source)) add(source);
    else unnamed.push(id);
  }
  const read = await Promise.all(unnamed.slice(0, DEAD_LETTER_READ_LIMIT).map((id) => dlq.getJob(id)));
  for (const job of read) {
    const source = (job?.data as { queue?: unknown } | undefined)?.queue;
    if (typeof source === 'string') add(source);
  }
  return { counts, scanned: ids.length, unreadRecords: unnamed.length > DEAD_LETTER_READ_LIMIT };
}

/** Reads everything the overview shows, for every queue, in one go. */
export async function readOverview(queues: DashboardQueues, now = Date.now()): Promise<FleetOverview> {
  const list = queues.list();
  const dlq = queues.get(deadLetters.name);
  const sources = new Set(list.map((q) => q.contract.name).filter((name) => name !== deadLetters.name));
  // The scan runs beside the queue reads rather than after them: one round of waiting, not two.
  // Whether it was cut short needs the dead-letter total, so that is worked out afterwards.
  const [read, scan] = await Promise.all([
    Promise.all(list.map((q) => readQueue(q, now))),
    dlq ? deadLettersBySource(dlq.queue, sources) : undefined,
  ]);
  const dlqRead = read.find((q) => q.name === deadLetters.name);
  const dlqTotal = dlqRead ? Object.values(dlqRead.counts).reduce((a, b) => a + b, 0) : 0;
  const truncated = scan !== undefined && (dlqTotal > scan.scanned || scan.unreadRecords);
  return {
    at: now,
    queues: read.map((q) => ({
      ...q,
      deadLetters: q.name === deadLetters.name ? null : (scan?.counts.get(q.name) ?? 0),
    })),
    deadLettersTruncated: truncated,
  };
}
