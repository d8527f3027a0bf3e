import { setTimeout as delay } from 'node:timers/promises';
import { catalog, DEAD_LETTER_JOB, deadLetters, emails, reports } from '@jobfleet/queue-contracts';
import { useTestRedis } from '@jobfleet/test-utils';
import { Queue, QueueEvents } from 'bullmq';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { COUNTED_STATES, readOverview } from '../src/overview-data.js';
import { formatAge } from '../src/overview-page.js';
import { login, startDashboard } from './helpers.js';
import { emailQueue, FAILING_ADDRESS, startEmailWorker } from './jobs.js';

const redis = useTestRedis();
const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

/** The markup of one queue's row. */
function row(page: string, queue: string): string {
  const start = page.indexOf(`<tr data-queue="${queue}">`);
  expect(start, `a row for ${queue}`).toBeGreaterThan(-1);
  return page.slice(start, page.indexOf('</tr>', start));
}

const countIn = (markup: string, state: string) => {
  const match = new RegExp(`data-count="${state}">([\\d,]+)<`).exec(markup);
  return match?.[1] === undefined ? undefined : Number(match[1].replaceAll(',', ''));
};

const chartIn = (markup: string, kind: 'completed' | 'failed') => {
  const values = new RegExp(`data-chart="${kind}"[^>]*data-values="([\\d,]+)"`).exec(markup)?.[1];
  return values?.split(',').map(Number) ?? [];
};

async function setup() {
  const dashboard = await startDashboard(redis);
  cleanup.push(() => dashboard.close());
  const worker = startEmailWorker(redis);
  cleanup.push(() => worker.close());
  const producer = await emailQueue(redis);
  cleanup.push(() => producer.close());
  const reportQueue = new Queue(reports.name, { connection: { url: redis.url }, prefix: redis.prefix });
  const dlq = new Queue(deadLetters.name, { connection: { url: redis.url }, prefix: redis.prefix });
  const dlqEvents = new QueueEvents(deadLetters.name, {
    connection: { url: redis.url },
    prefix: redis.prefix,
  });
  await dlqEvents.waitUntilReady();
  cleanup.push(
    () => reportQueue.close(),
    () => dlq.close(),
    () => dlqEvents.close(),
  );
  return {
    ...dashboard,
    worker,
    producer,
    reportQueue,
    dlq,
    dlqEvents,
    cookie: await login(dashboard.app, 'watcher'),
  };
}

/** Resolves once `n` more records reached the dead-letter queue. */
const deadLettered = (events: QueueEvents, n: number) =>
  new Promise<void>((resolve) => {
    let seen = 0;
    const onAdded = () => {
      seen += 1;
      if (seen < n) return;
      events.off('added', onAdded);
      resolve();
    };
    events.on('added', onAdded);
  });

describe('the fleet overview at /', () => {
  it("shows every queue's counts, per-minute charts, oldest wait and dead letters, matching the queues", async () => {
    const { app, cookie, producer, reportQueue, dlq, dlqEvents } = await setup();
    const recorded = deadLettered(dlqEvents, 2);
    for (const to of ['a@example.com', 'b@example.com', 'c@example.com']) await producer.finished(to);
    for (let i = 0; i < 2; i += 1) await producer.finished(FAILING_ADDRESS);
    await recorded;
    await producer.queue.add('welcome', { userId: 9, to: 'later@example.com' }, { delay: 3_600_000 });
    // Nothing works the reports queue: its job waits, added 12 minutes ago.
    await reportQueue.add('daily-report', { tenantId: 'acme' }, { timestamp: Date.now() - 12 * 60_000 });
    await reportQueue.pause();
    // A record whose id does not name its queue is counted by its data.
    await dlq.add(
      DEAD_LETTER_JOB,
      { queue: reports.name, jobId: 'r1', jobName: 'daily-report' },
      { jobId: 'custom-id' },
    );

    const response = await app.inject({ url: '/', headers: { cookie } });
    expect(response.statusCode).toBe(200);
    expect(response.headers['cache-control']).toBe('no-store');
    const page = response.body;

    for (const queue of [emails.name, reports.name, deadLetters.name]) {
      const markup = row(page, queue);
      const shown = app.queues.get(queue)?.queue;
      if (!shown) throw new Error(`the dashboard has no queue ${queue}`);
      const counts = await shown.getJobCounts(...COUNTED_STATES);
      for (const state of ['waiting', 'active', 'delayed', 'failed', 'completed'] as const) {
        expect(countIn(markup, state), `${queue} ${state}`).toBe(counts[state]);
      }
    }
    const emailRow = row(page, emails.name);
    expect(countIn(emailRow, 'completed')).toBe(3);
    expect(countIn(emailRow, 'failed')).toBe(2);
    expect(countIn(emailRow, 'delayed')).toBe(1);
    // BullMQ's per-minute metrics, as the worker recorded them: 60 bars, all of this test's jobs in the last minutes.
    const completed = chartIn(emailRow, 'completed');
    const failed = chartIn(emailRow, 'failed');
    expect(completed).toHaveLength(60);
    expect(completed.reduce((a, b) => a + b, 0)).toBe(3);
    expect(failed.reduce((a, b) => a + b, 0)).toBe(2);
    expect(completed.slice(0, 58).every((v) => v === 0)).toBe(true);
    expect(emailRow).toMatch(
      /data-dead-letters="emails" href="\/admin\/queues\/queue\/dead-letters"[^>]*>2</,
    );

    const reportRow = row(page, reports.name);
    expect(countIn(reportRow, 'waiting')).toBe(1);
    expect(reportRow).toContain('data-paused="true"');
    const oldest = Number(/data-oldest-waiting-ms="(\d+)"/.exec(reportRow)?.[1]);
    expect(oldest).toBeGreaterThanOrEqual(12 * 60_000);
    expect(oldest).toBeLessThan(13 * 60_000);
    expect(reportRow).toContain('12 min');
    expect(reportRow).toMatch(/data-dead-letters="reports"[^>]*>1</);
    expect(page).toContain('Paused: reports');

    const dlqRow = row(page, deadLetters.name);
    expect(countIn(dlqRow, 'waiting')).toBe(3);
    expect(dlqRow).not.toContain('data-dead-letters=');
    // Summary tiles add up the work queues.
    expect(page).toMatch(/tile-value">2<\/span><span class="tile-label">failed in the last hour/);
    expect(page).toMatch(/tile-value">3<\/span><span class="tile-label">dead letters/);
  });

  it('shares one Redis read between concurrent requests, and reads again for a later one', async () => {
    const { app, cookie } = await setup();
    const shown = app.queues.get(emails.name)?.queue;
    if (!shown) throw new Error(`the dashboard has no queue ${emails.name}`);
    const original = shown.getJobCounts.bind(shown);
    // A slow read, so the requests surely overlap.
    const counted = vi.spyOn(shown, 'getJobCounts').mockImplementation(async (...states) => {
      await delay(200);
      return original(...states);
    });
    const pages = await Promise.all(
      Array.from({ length: 3 }, () => app.inject({ url: '/', headers: { cookie } })),
    );
    expect(pages.map((page) => page.statusCode)).toEqual([200, 200, 200]);
    expect(counted).toHaveBeenCalledTimes(1);
    expect((await app.inject({ url: '/', headers: { cookie } })).statusCode).toBe(200);
    expect(counted).toHaveBeenCalledTimes(2);
  });

  it('is a light page that refreshes by itself: no external resources, a small script, a no-script reload', async () => {
    const { app, cookie } = await setup();
    const page = (await app.inject({ url: '/', headers: { cookie } })).body;
    expect(page).toContain('<main id="overview" data-refresh-ms="10000"');
    expect(page).toContain('<script src="/assets/overview.js" defer></script>');
    expect(page).toContain('<noscript><meta http-equiv="refresh" content="10"></noscript>');
    expect(page).not.toMatch(/https?:\/\//);
    expect(page.length).toBeLessThan(100_000);
    const script = await app.inject({ url: '/assets/overview.js' });
    expect(script.headers['content-type']).toMatch(/^text\/javascript/);
    expect(script.body.length).toBeLessThan(4_000);
  });

  it('shows the user and role, and links each queue to bull-board', async () => {
    const { app, cookie } = await setup();
    const page = (await app.inject({ url: '/', headers: { cookie } })).body;
    expect(page).toContain('<span>watcher</span>');
    expect(page).toContain('viewer · read-only');
    expect(page).toContain('<a href="/admin/queues/queue/emails"');
    expect(page).toContain('<a href="/logout">Log out</a>');
  });
});

describe('readOverview', () => {
  it('counts dead letters per source queue from record ids, reading only records with other ids', async () => {
    const { app, dlq } = await setup();
    for (let i = 0; i < 4; i += 1) {
      await dlq.add(DEAD_LETTER_JOB, { queue: emails.name }, { jobId: `${emails.name}.${i}.${Date.now()}` });
    }
    await dlq.add(DEAD_LETTER_JOB, { queue: reports.name }, { jobId: 'no-queue-in-this-id' });
    const overview = await readOverview(app.queues);
    // Every other catalog queue (a generated one, say) shows 0.
    const others = Object.keys(catalog).filter((name) => name !== emails.name && name !== reports.name);
    expect(overview.queues.map((q) => [q.name, q.deadLetters])).toEqual([
      [emails.name, 4],
      [reports.name, 1],
      ...others.map((name) => [name, 0]),
      [deadLetters.name, null],
    ]);
    expect(overview.deadLettersTruncated).toBe(false);
  });
});

it('formats ages as a person reads them', () => {
  expect(formatAge(45_000)).toBe('45 s');
  expect(formatAge(12 * 60_000 + 5_000)).toBe('12 min');
  expect(formatAge(3 * 3_600_000 + 20 * 60_000)).toBe('3 h 20 min');
  expect(formatAge(2 * 86_400_000 + 4 * 3_600_000)).toBe('2 d 4 h');
});
