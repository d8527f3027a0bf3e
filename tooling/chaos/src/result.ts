import { setTimeout as sleep } from 'node:timers/promises';
import type { Queue } from 'bullmq';
import type { Tally } from './client.js';
import type { SmtpSink } from './smtp-sink.js';

/** One line of the table. */
export interface ScenarioResult {
  readonly scenario: string;
  /** Jobs the gateway accepted (200/202), after the clients' retries. */
  accepted: number;
  /** Accepted jobs whose e-mail reached the SMTP sink at least once. */
  delivered: number;
  /** Accepted jobs whose e-mail never arrived (dead-lettered, or gone). */
  lost: number;
  /** Messages beyond the first per job, at the sink. */
  duplicated: number;
  /** Answers 500, 502 or any 5xx but 503 and 504, plus app crashes. */
  serverErrors: number;
  slowestMs: number;
  /** From the end of the fault to the first success after it (see each scenario); undefined when not measured. */
  recoveryMs: number | undefined;
  /** Checks of the scenario's own promise that failed (e.g. readiness still 200 while Redis is full). */
  failures: string[];
  /** What else was seen: answer codes, dead letters, known limits. */
  notes: string[];
}

export const passed = (r: ScenarioResult): boolean =>
  r.lost === 0 && r.duplicated === 0 && r.serverErrors === 0 && r.failures.length === 0;

/** Waits until `check` holds (polled every 100 ms) or `timeoutMs` passes; returns whether it held. */
export async function until(check: () => boolean | Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (performance.now() > deadline) return false;
    await sleep(100);
  }
}

/** The first time in `times` at or after `from`, minus `from`; undefined when there is none. */
export function firstAfter(times: readonly number[], from: number): number | undefined {
  const first = times.find((t) => t >= from);
  return first === undefined ? undefined : first - from;
}

/** How long the suite waits after the drain for a late second copy of an e-mail. */
export const LATE_DUPLICATE_WAIT_MS = 1_500;

export interface SettleOptions {
  readonly scenario: string;
  readonly tally: Tally;
  readonly sink: SmtpSink;
  readonly emails: Queue;
  /** How long to wait for every accepted job to be delivered or dead-lettered. */
  readonly drainMs: number;
  readonly crashes: readonly string[];
  /** Read once the queue drained. */
  readonly recoveryMs?: number | (() => number | undefined) | undefined;
  /** Progress lines. */
  readonly log?: (message: string) => void;
  /** When the fault began, to tell in the notes when duplicates arrived. */
  readonly faultAt?: number;
}

/**
 * Waits for the queue to drain (every accepted e-mail at the sink, nothing
 * waiting, active or delayed), then a moment more for late duplicates, and
 * counts: delivered and lost per accepted key, duplicates per recipient.
 */
export async function settle(options: SettleOptions): Promise<ScenarioResult> {
  const { tally, sink, emails } = options;
  const drained = async () => {
    for (const to of tally.accepted.values()) if (!sink.received.has(to)) return false;
    const counts = await emails.getJobCounts('waiting', 'active', 'delayed', 'prioritized');
    return Object.values(counts).every((n) => n === 0);
  };
  const notes: string[] = [];
  const failures: string[] = [];
  const drainStarted = performance.now();
  if (!(await until(drained, options.drainMs))) notes.push(`not drained within ${options.drainMs} ms`);
  options.log?.(`drained in ${((performance.now() - drainStarted) / 1_000).toFixed(1)} s`);
  // A job the runtime re-runs after a stall or a lost lock may send once more a little later.
  await sleep(LATE_DUPLICATE_WAIT_MS);

  let delivered = 0;
  const missing: string[] = [];
  for (const [key, to] of tally.accepted) {
    if (sink.received.has(to)) delivered += 1;
    else missing.push(key);
  }
  for (const key of missing.slice(0, 3)) {
    const id = tally.jobIds.get(key);
    const job = id === undefined ? undefined : await emails.getJob(id);
    const state = job ? await job.getState() : 'not found';
    notes.push(
      `not delivered: ${key} (job ${id}: ${state}${job ? `, ${job.attemptsMade} attempts, stalled ${job.stalledCounter}${job.failedReason ? `, ${job.failedReason.slice(0, 200)}` : ''}` : ''})`,
    );
  }
  let duplicated = 0;
  const accepted = new Set(tally.accepted.values());
  let unaccepted = 0;
  for (const [to, count] of sink.received) {
    duplicated += Math.max(0, count - 1);
    if (!accepted.has(to)) unaccepted += 1;
  }
  if (duplicated > 0) {
    const twice = [...sink.received].filter(([, count]) => count > 1).map(([to]) => to);
    const sameId = twice.filter((to) => {
      const ids = sink.deliveries.filter((d) => d.to === to).map((d) => d.messageId);
      return new Set(ids).size === 1;
    }).length;
    const when = twice.slice(0, 3).map((to) => {
      const times = sink.deliveries
        .filter((d) => d.to === to)
        .map((d) => `${((d.at - (options.faultAt ?? 0)) / 1_000).toFixed(2)} s`);
      return `${to.split('@')[0]} at ${times.join(' and ')}`;
    });
    notes.push(
      `${twice.length} jobs sent more than once (${sameId} with one Message-ID each)${options.faultAt === undefined ? '' : `; times from the fault: ${when.join('; ')}`}`,
    );
  }
  const stalled = (await emails.getJobs(['completed', 'failed'])).filter((job) => job.stalledCounter > 0);
  if (stalled.length > 0) {
    notes.push(
      `${stalled.length} jobs were re-run by stalled-job recovery (each counts against WORKER_MAX_STALLED_COUNT)`,
    );
  }
  if (tally.slowestAcceptance.ms > 3_000) {
    notes.push(
      `longest from a first request to its acceptance: ${(tally.slowestAcceptance.ms / 1_000).toFixed(1)} s (${tally.slowestAcceptance.key})`,
    );
  }
  if (tally.staleClaims.size > 0) {
    const longest = Math.max(...tally.staleClaims.values());
    notes.push(
      `FINDING: ${tally.staleClaims.size} Idempotency-Keys were answered 409 JOBFLEET_IDEMPOTENCY_IN_PROGRESS although no other request with them was in flight: they stayed claimed (each retry waiting 5 s) until the claim expired; accepted up to ${(longest / 1_000).toFixed(1)} s after their first request`,
    );
  }
  const failed = await emails.getJobCountByTypes('failed');
  if (failed > 0) notes.push(`${failed} e-mail jobs failed for good (dead-lettered)`);
  if (unaccepted > 0) notes.push(`${unaccepted} e-mails of requests never answered 2xx (deadline) arrived`);
  if (tally.unanswered.length > 0)
    notes.push(`${tally.unanswered.length} requests not accepted by the deadline`);
  if (tally.refused.length > 0) failures.push(`refused: ${tally.refused.slice(0, 3).join('; ')}`);
  const answers = [...tally.answers]
    .filter(([label]) => !label.startsWith('20'))
    .map(([label, n]) => `${n}× ${label}`);
  if (answers.length > 0) notes.push(`answers retried: ${answers.join(', ')}`);
  for (const crash of options.crashes) notes.push(`crash: ${crash}`);
  return {
    scenario: options.scenario,
    accepted: tally.accepted.size,
    delivered,
    lost: tally.accepted.size - delivered,
    duplicated,
    serverErrors: tally.serverErrors.length + options.crashes.length,
    slowestMs: tally.slowestMs,
    recoveryMs: typeof options.recoveryMs === 'function' ? options.recoveryMs() : options.recoveryMs,
    failures,
    notes,
  };
}

const seconds = (ms: number | undefined) => (ms === undefined ? '—' : `${(ms / 1_000).toFixed(2)} s`);

/** The table, as markdown (it reads as well in a terminal), with failures and notes under it. */
export function formatTable(results: readonly ScenarioResult[]): string {
  const header = [
    'scenario',
    'accepted',
    'delivered',
    'lost',
    'duplicated',
    '5xx',
    'slowest answer',
    'recovery time',
    'result',
  ];
  const rows = results.map((r) => [
    r.scenario,
    String(r.accepted),
    String(r.delivered),
    String(r.lost),
    String(r.duplicated),
    String(r.serverErrors),
    r.slowestMs > 0 ? seconds(r.slowestMs) : '—',
    seconds(r.recoveryMs),
    passed(r) ? 'pass' : 'FAIL',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    `| ${cells.map((cell, i) => (i === 0 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0))).join(' | ')} |`;
  const rule = `| ${widths.map((w, i) => (i === 0 ? '-'.repeat(w) : `${'-'.repeat(w - 1)}:`)).join(' | ')} |`;
  const details = results.flatMap((r) => [
    ...r.failures.map((f) => `- ${r.scenario}: FAILED CHECK: ${f}`),
    ...r.notes.map((n) => `- ${r.scenario}: ${n}`),
  ]);
  return [line(header), rule, ...rows.map(line), '', ...details].join('\n');
}

/** From `from` to the first e-mail that arrived on an SMTP connection opened after it (a new worker's). */
export function firstNewDelivery(sink: SmtpSink, from: number): number | undefined {
  const first = sink.deliveries.find((d) => d.connectedAt >= from);
  return first === undefined ? undefined : first.at - from;
}
