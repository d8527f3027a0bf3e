import { deadLetters } from '@jobfleet/queue-contracts';
import type { Principal } from './auth-mode.js';
import { html, type SafeHtml } from './html.js';
import { CHART_MINUTES, type FleetOverview, type QueueOverview } from './overview-data.js';
import { layout } from './pages.js';
import { boardQueueUrl } from './paths.js';
import { sparkline } from './sparkline.js';

/** A wait longer than this is shown as a warning. */
export const SLOW_WAIT_MS = 5 * 60_000;

const number = (n: number) => n.toLocaleString('en-US');

/** A short age: `45 s`, `12 min`, `3 h 20 min`, `2 d 4 h`. */
export function formatAge(ms: number): string {
  const s = Math.floor(ms / 1_000);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min`;
  const h = Math.floor(m / 60);
  if (h < 24) return m % 60 ? `${h} h ${m % 60} min` : `${h} h`;
  const d = Math.floor(h / 24);
  return h % 24 ? `${d} d ${h % 24} h` : `${d} d`;
}

const sum = (values: readonly number[]) => values.reduce((a, b) => a + b, 0);

const clock = (at: number) => new Date(at).toISOString().slice(11, 19);

function count(state: string, value: number, extra = ''): SafeHtml {
  return html`<span class="count${value === 0 ? ' zero' : ''}${extra}" data-count="${state}">${number(value)}</span>`;
}

/** A chart with its scale beside it: the hour's total, and the busiest minute the bars are scaled to. */
function chartCell(queue: string, kind: 'completed' | 'failed', values: number[]): SafeHtml {
  const total = sum(values);
  const peak = Math.max(0, ...values);
  return html`${sparkline({ values, kind, queue })}<span class="chart-total${kind === 'failed' && total > 0 ? ' bad' : ''}${total === 0 ? ' zero' : ''}">${number(total)}<small>${total > 0 ? `peak ${number(peak)}/min` : 'none'}</small></span>`;
}

function queueRow(q: QueueOverview): SafeHtml {
  const { counts } = q;
  const isDlq = q.name === deadLetters.name;
  const slow = q.oldestWaitingMs !== null && q.oldestWaitingMs >= SLOW_WAIT_MS;
  return html`<tr data-queue="${q.name}">
  <th scope="row">
    <a href="${boardQueueUrl(q.name)}" title="${q.description}">${q.name}</a>
    ${q.paused ? html`<span class="badge paused" data-paused="true">paused</span>` : ''}
  </th>
  <td class="num">${count('waiting', counts.waiting)}${
    counts.prioritized > 0
      ? html`<small>+${count('prioritized', counts.prioritized)} prioritized</small>`
      : ''
  }${
    counts['waiting-children'] > 0
      ? html`<small>+${count('waiting-children', counts['waiting-children'])} waiting for children</small>`
      : ''
  }</td>
  <td class="num">${count('active', counts.active)}</td>
  <td class="num">${count('delayed', counts.delayed)}</td>
  <td class="num">${count('failed', counts.failed, counts.failed > 0 && !isDlq ? ' bad' : '')}</td>
  <td class="num">${count('completed', counts.completed)}</td>
  <td class="num${slow ? ' warn' : ''}" data-oldest-waiting-ms="${q.oldestWaitingMs ?? ''}">${
    q.oldestWaitingMs === null ? html`<span class="zero">—</span>` : formatAge(q.oldestWaitingMs)
  }</td>
  <td class="chart">${chartCell(q.name, 'completed', q.completedPerMinute)}</td>
  <td class="chart">${chartCell(q.name, 'failed', q.failedPerMinute)}</td>
  <td class="num">${
    q.deadLetters === null
      ? html`<span class="zero">—</span>`
      : html`<a class="dead-letters${q.deadLetters > 0 ? ' bad' : ' zero'}" data-dead-letters="${q.name}" href="${boardQueueUrl(deadLetters.name)}" title="Dead-letter records of ${q.name} jobs">${number(q.deadLetters)}</a>`
  }</td>
</tr>`;
}

function summary(overview: FleetOverview): SafeHtml {
  const work = overview.queues.filter((q) => q.name !== deadLetters.name);
  const waiting = sum(work.map((q) => q.counts.waiting + q.counts.prioritized));
  const active = sum(work.map((q) => q.counts.active));
  const failedHour = sum(work.map((q) => sum(q.failedPerMinute)));
  const completedHour = sum(work.map((q) => sum(q.completedPerMinute)));
  const dead = sum(work.map((q) => q.deadLetters ?? 0));
  const oldest = Math.max(-1, ...work.map((q) => q.oldestWaitingMs ?? -1));
  const paused = work.filter((q) => q.paused).map((q) => q.name);
  const tile = (label: string, value: string, tone = '') =>
    html`<div class="tile${tone}"><span class="tile-value">${value}</span><span class="tile-label">${label}</span></div>`;
  return html`<section class="tiles" aria-label="Fleet summary">
  ${tile('waiting', number(waiting), oldest >= SLOW_WAIT_MS ? ' warn' : '')}
  ${tile('active', number(active))}
  ${tile('completed in the last hour', number(completedHour))}
  ${tile('failed in the last hour', number(failedHour), failedHour > 0 ? ' bad' : ' good')}
  ${tile('dead letters', number(dead), dead > 0 ? ' bad' : ' good')}
  ${tile('oldest waiting job', oldest < 0 ? '—' : formatAge(oldest), oldest >= SLOW_WAIT_MS ? ' warn' : '')}
</section>
${paused.length > 0 ? html`<p class="banner warn" role="status">Paused: ${paused.join(', ')} (workers take no new jobs from ${paused.length === 1 ? 'it' : 'them'}).</p>` : ''}`;
}

export interface OverviewPageOptions {
  /** The latest figures; `undefined` when Redis has not answered since start. */
  overview: FleetOverview | undefined;
  /** Set when this read failed: the page says so, and shows the last figures it had. */
  unavailable?: { since: number; reason: string } | undefined;
  principal: Principal;
  refreshMs: number;
  authDisabled: boolean;
}

/** The fleet overview: per-queue counts, charts, oldest wait and dead letters, refreshed by itself. */
export function overviewPage(options: OverviewPageOptions): string {
  const { overview, unavailable, principal, refreshMs, authDisabled } = options;
  const banner = unavailable
    ? html`<p class="banner error" role="alert" data-unavailable="true">Redis is unreachable (since ${clock(unavailable.since)} UTC): ${unavailable.reason}. ${
        overview ? `The figures below are from ${clock(overview.at)} UTC.` : 'No figures yet.'
      } Retrying every ${Math.round(refreshMs / 1_000)} s.</p>`
    : '';
  const table = overview
    ? html`${summary(overview)}
<div class="table-wrap">
<table class="queues${unavailable ? ' stale' : ''}">
  <thead>
    <tr>
      <th scope="col">Queue</th>
      <th scope="col" class="num" title="Ready to run, in line for a worker">Waiting</th>
      <th scope="col" class="num" title="Being processed now">Active</th>
      <th scope="col" class="num" title="Scheduled for later, or backing off before a retry">Delayed</th>
      <th scope="col" class="num" title="Failed for good and kept for inspection">Failed</th>
      <th scope="col" class="num" title="Finished and kept (per the queue's retention)">Completed</th>
      <th scope="col" class="num" title="How long the next job in line has waited">Oldest waiting</th>
      <th scope="col" title="Jobs completed per minute, last ${CHART_MINUTES} minutes; now is at the right">Completed / min <small>(last hour)</small></th>
      <th scope="col" title="Jobs that failed for good per minute, last ${CHART_MINUTES} minutes; now is at the right">Failed / min <small>(last hour)</small></th>
      <th scope="col" class="num" title="Records in the dead-letters queue, by the queue the job came from">Dead letters</th>
    </tr>
  </thead>
  <tbody>
${overview.queues.map(queueRow)}
  </tbody>
</table>
</div>
${overview.deadLettersTruncated ? html`<p class="note">There are more dead-letter records than the overview counts; the numbers are lower bounds.</p>` : ''}
<p class="note">Charts: one bar per minute, the current minute at the right; hover a bar for its count. “Failed” counts jobs that failed after all their retries. Counts link to the queues in bull-board.</p>`
    : '';
  return layout({
    title: 'Overview',
    principal,
    refreshMs,
    authDisabled,
    scripts: ['/assets/overview.js'],
    body: html`<main id="overview" data-refresh-ms="${refreshMs}" data-updated="${overview ? new Date(overview.at).toISOString() : ''}">
<div class="heading">
  <h1>Fleet overview</h1>
  <p class="updated">${
    overview
      ? html`Updated <time datetime="${new Date(overview.at).toISOString()}">${clock(overview.at)} UTC</time>`
      : 'Not updated yet'
  } · refreshes every ${Math.round(refreshMs / 1_000)} s</p>
</div>
${banner}
${table}
</main>`,
  });
}
