import { mkdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { redriveJobId } from '@jobfleet/dead-letter-store';
import { deadLetters, emails, reports } from '@jobfleet/queue-contracts';
import { useTestRedis } from '@jobfleet/test-utils';
import { Queue } from 'bullmq';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { COUNTED_STATES } from '../src/overview-data.js';
import { PASSWORDS, startDashboard } from './helpers.js';
import { emailQueue, FAILING_ADDRESS, startDeadLetterIndexer, startEmailWorker } from './jobs.js';

/**
 * The dashboard in a real Chromium (Debian's, as `.ci/run` installs it),
 * against a real listening server, a real worker and real Redis. Screenshots
 * are kept in `.artifacts/` for people to look at.
 */

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARTIFACTS = fileURLToPath(new URL('../.artifacts', import.meta.url));
const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];
/** The job cards' icon-only action buttons: retry, duplicate, edit, remove. */
const JOB_ACTIONS = [
  'button:has(svg.lucide-refresh-cw)',
  'button:has(svg.lucide-files)',
  'button:has(svg.lucide-pencil)',
  'button:has(svg.lucide-trash2)',
].join(', ');

/** The little of the DOM the page functions use (this package compiles without DOM types). */
interface BrowserGlobals {
  document: { querySelector(selector: string): { textContent: string | null } | null };
}

/** Chromium on a shared two-core machine: generous, though each test takes seconds. */
const BROWSER_TEST_TIMEOUT_MS = 60_000;

const redis = useTestRedis();
let browser: Browser;
const cleanup: Array<() => Promise<unknown>> = [];

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS, timeout: 60_000 });
}, 90_000);

afterAll(async () => {
  await browser?.close();
});

afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

/** A listening dashboard (refreshing the overview every second), a worker, and the emails queue. */
async function setup() {
  const dashboard = await startDashboard(redis, { DASHBOARD_REFRESH_MS: '1000' });
  cleanup.push(() => dashboard.close());
  const address = await dashboard.app.listen({ port: 0, host: '127.0.0.1' });
  const worker = startEmailWorker(redis);
  cleanup.push(() => worker.close());
  const producer = await emailQueue(redis);
  cleanup.push(() => producer.close());
  return { ...dashboard, url: address, worker, producer };
}

interface Session {
  context: BrowserContext;
  page: Page;
  /** Content-Security-Policy violations the page reported. */
  cspViolations: string[];
  /** Console messages of type `error` and uncaught exceptions, with the page they came from. */
  consoleErrors: string[];
}

async function newSession(width = 1440): Promise<Session> {
  const context = await browser.newContext({ viewport: { width, height: 900 } });
  cleanup.push(() => context.close());
  const page = await context.newPage();
  const cspViolations: string[] = [];
  const consoleErrors: string[] = [];
  page.on('console', (message) => {
    if (message.text().includes('Content Security Policy')) cspViolations.push(message.text());
    if (message.type() === 'error') consoleErrors.push(`${page.url()}: ${message.text()}`);
  });
  page.on('pageerror', (error) => consoleErrors.push(`${page.url()}: ${error.message}`));
  return { context, page, cspViolations, consoleErrors };
}

/** Logs in through the form, from wherever the dashboard sent the browser. */
async function logIn(page: Page, url: string, username: keyof typeof PASSWORDS) {
  await page.goto(`${url}/`);
  expect(page.url()).toBe(`${url}/login?next=%2F`);
  await page.fill('input[name=username]', username);
  await page.fill('input[name=password]', PASSWORDS[username]);
  await Promise.all([page.waitForURL(`${url}/`), page.click('button[type=submit]')]);
}

/** The CSP refuses nothing: bull-board's link to Google Fonts is left out of its pages. */
const unexpectedViolations = (session: Session) => session.cspViolations;

it(
  'admin: logs in, reads the overview (charts and counts match the queues), retries a failed job from bull-board and watches it complete',
  async () => {
    const { url, worker, producer } = await setup();
    for (const to of ['a@example.com', 'b@example.com', 'c@example.com']) await producer.finished(to);
    const failed = await producer.finished(FAILING_ADDRESS);
    const failedId = String(failed.id);
    expect(await failed.getState()).toBe('failed');
    const reportQueue = new Queue(reports.name, { connection: { url: redis.url }, prefix: redis.prefix });
    cleanup.push(() => reportQueue.close());
    await reportQueue.add('daily-report', { tenantId: 'acme' });

    const session = await newSession();
    const { page } = session;
    await page.goto(`${url}/`);
    await page.screenshot({ path: join(ARTIFACTS, '01-login.png') });
    await logIn(page, url, 'ops');

    // Every queue is there, with the counts the queues hold.
    for (const name of [emails.name, reports.name, deadLetters.name]) {
      const row = page.locator(`tr[data-queue="${name}"]`);
      await expect.poll(() => row.isVisible()).toBe(true);
      const queue =
        name === emails.name
          ? producer.queue
          : new Queue(name, { connection: { url: redis.url }, prefix: redis.prefix });
      if (queue !== producer.queue) cleanup.push(() => queue.close());
      const counts = await queue.getJobCounts(...COUNTED_STATES);
      for (const state of ['waiting', 'active', 'delayed', 'failed', 'completed'] as const) {
        const shown = await row.locator(`[data-count="${state}"]`).first().textContent();
        expect(Number(shown), `${name} ${state}`).toBe(counts[state]);
      }
    }
    // The charts are drawn, and carry BullMQ's per-minute counts.
    const completedChart = page.locator('svg[data-chart="completed"][data-queue="emails"]');
    const failedChart = page.locator('svg[data-chart="failed"][data-queue="emails"]');
    for (const chart of [completedChart, failedChart]) {
      const box = await chart.boundingBox();
      expect(box?.width).toBeGreaterThan(100);
      expect(box?.height).toBeGreaterThan(20);
      expect(await chart.locator('rect').count()).toBeGreaterThan(0);
    }
    const sum = async (chart: typeof completedChart) =>
      String(await chart.getAttribute('data-values'))
        .split(',')
        .reduce((a, b) => a + Number(b), 0);
    expect(await sum(completedChart)).toBe(3);
    expect(await sum(failedChart)).toBe(1);
    await expect.poll(() => page.locator('[data-dead-letters="emails"]').textContent()).toBe('1');
    await page.screenshot({ path: join(ARTIFACTS, '02-overview-admin.png'), fullPage: true });
    // At a laptop's width the whole table is in view, dead letters included, without scrolling sideways.
    const overflow = await page.locator('.table-wrap').evaluate((el) => el.scrollWidth - el.clientWidth);
    expect(overflow).toBeLessThanOrEqual(0);

    // It refreshes by itself, without reloading the page.
    await page.evaluate(() => {
      (globalThis as { sameDocument?: boolean }).sameDocument = true;
    });
    await producer.finished('d@example.com');
    await page.waitForFunction(
      () =>
        (globalThis as unknown as BrowserGlobals).document.querySelector(
          'tr[data-queue="emails"] [data-count="completed"]',
        )?.textContent === '4',
      undefined,
      { timeout: 15_000 },
    );
    expect(await page.evaluate(() => (globalThis as { sameDocument?: boolean }).sameDocument)).toBe(true);
    expect(await sum(completedChart)).toBe(4);

    // From the overview into bull-board, to the failed job, and retry it.
    await Promise.all([
      page.waitForURL(`${url}/admin/queues/queue/emails`),
      page.click('tr[data-queue="emails"] th a'),
    ]);
    await page.goto(`${url}/admin/queues/queue/emails?status=failed`);
    await page.getByText(`#${failedId}`, { exact: true }).waitFor();
    await page.screenshot({ path: join(ARTIFACTS, '03-bull-board-failed-admin.png') });
    // The buttons a viewer must not see are here for an admin (so the viewer test can tell them apart).
    expect(await page.locator(JOB_ACTIONS).count()).toBeGreaterThanOrEqual(4);
    expect(await page.getByRole('button', { name: /retry all|clean all/i }).count()).toBe(2);
    worker.failing = false;
    const completed = producer.completion(failedId);
    await page.locator('button:has(svg.lucide-refresh-cw)').filter({ hasNotText: /\S/ }).first().click();
    await page.getByText('Are you sure that you want to retry this job?').waitFor();
    await page.getByRole('button', { name: 'Confirm' }).click();
    await completed;
    expect(await producer.queue.getJobState(failedId)).toBe('completed');
    await page.goto(`${url}/admin/queues/queue/emails?status=completed`);
    await page.getByText(`#${failedId}`, { exact: true }).waitFor();
    await page.screenshot({ path: join(ARTIFACTS, '04-bull-board-retried-admin.png') });

    expect(unexpectedViolations(session)).toEqual([]);
  },
  BROWSER_TEST_TIMEOUT_MS,
);

it(
  'viewer: sees no action buttons, and a forged retry gets 403',
  async () => {
    const { url, producer } = await setup();
    const failed = await producer.finished(FAILING_ADDRESS);
    const failedId = String(failed.id);
    const session = await newSession();
    const { page } = session;
    await logIn(page, url, 'watcher');
    await expect.poll(() => page.locator('.role-viewer').textContent()).toBe('viewer · read-only');
    await page.screenshot({ path: join(ARTIFACTS, '05-overview-viewer.png'), fullPage: true });

    await page.goto(`${url}/admin/queues/queue/emails?status=failed`);
    await page.getByText(`#${failedId}`, { exact: true }).waitFor();
    await page.getByText('viewer · read-only').first().waitFor();
    expect(await page.locator(JOB_ACTIONS).count()).toBe(0);
    expect(await page.getByRole('button', { name: /retry all|clean all|promote all/i }).count()).toBe(0);
    await page.screenshot({ path: join(ARTIFACTS, '06-bull-board-viewer.png') });

    // What the hidden buttons would have sent, forged from the viewer's own page.
    const statuses = await page.evaluate(async (id) => {
      const path = `/admin/queues/api/queues/emails/${id}/retry`;
      const put = await fetch(path, { method: 'PUT' });
      const post = await fetch(path, { method: 'POST' });
      return { put: put.status, post: post.status, title: ((await put.json()) as { title: string }).title };
    }, failedId);
    expect(statuses).toEqual({ put: 403, post: 403, title: 'Read-only access' });
    expect(await producer.queue.getJobState(failedId)).toBe('failed');
    expect(unexpectedViolations(session)).toEqual([]);
  },
  BROWSER_TEST_TIMEOUT_MS,
);

it(
  "a cross-origin POST carrying an admin's cookie is refused",
  async () => {
    const { url, producer, logs } = await setup();
    const session = await newSession();
    const { page } = session;
    await logIn(page, url, 'ops');
    // Another origin on the same host: the same site, so the browser does send the SameSite=Lax cookie.
    const evil = await new Promise<Server>((resolve) => {
      const server = createServer((_request, response) => {
        response.setHeader('content-type', 'text/html');
        response.end(`<!doctype html><form id="f" method="post" action="${url}/admin/queues/api/queues/emails/add">
<input name="name" value="welcome"><input name="data" value='{"userId":1,"to":"victim@example.com"}'></form>
<script>document.getElementById('f').submit()</script>`);
      });
      server.listen(0, '127.0.0.1', () => resolve(server));
    });
    cleanup.push(() => new Promise((resolve) => evil.close(resolve)));
    const before = await producer.queue.count();
    const refused = page.waitForResponse((response) =>
      response.url().endsWith('/admin/queues/api/queues/emails/add'),
    );
    await page.goto(`http://127.0.0.1:${(evil.address() as AddressInfo).port}/`);
    const response = await refused;
    expect(response.status()).toBe(403);
    expect(await response.text()).toContain('Cross-origin request refused');
    expect(await producer.queue.count()).toBe(before);
    expect(logs.find((l) => l.msg === 'refused a cross-origin state-changing request')).toMatchObject({
      with_cookie: true,
    });
    // The admin's own session is untouched and still works.
    await page.goto(`${url}/`);
    expect(page.url()).toBe(`${url}/`);
  },
  BROWSER_TEST_TIMEOUT_MS,
);

it(
  "admin: bull-board's Add-job form is checked against the contract, on the server too",
  async () => {
    const { url } = await setup();
    const reportQueue = new Queue(reports.name, { connection: { url: redis.url }, prefix: redis.prefix });
    cleanup.push(() => reportQueue.close());
    const session = await newSession();
    const { page } = session;
    await logIn(page, url, 'ops');
    await page.goto(`${url}/admin/queues/queue/reports`);
    const openForm = async () => {
      await page.locator('button[aria-haspopup="menu"][class*="trigger"]').click();
      await page.getByRole('menuitem', { name: 'Add job' }).click();
      await page.fill('form#add-job-form input[name=jobName]', 'daily-report');
    };
    const submit = async () => {
      const answered = page.waitForResponse((r) => r.url().endsWith('/admin/queues/api/queues/reports/add'));
      await page.getByRole('button', { name: 'Add', exact: true }).click();
      const response = await answered;
      await page.locator('form#add-job-form').waitFor({ state: 'detached' });
      return response;
    };

    // The form's template, filled from the contract's schema, has empty fields the contract refuses.
    await openForm();
    expect((await submit()).status()).toBe(400);
    await page.getByText('The "data" field in the request body is not valid.').waitFor();
    await page.getByText('the data of a "daily-report" job is invalid').waitFor();
    await page.screenshot({ path: join(ARTIFACTS, '08-add-job-refused.png') });
    expect(await reportQueue.count()).toBe(0);

    await openForm();
    await page.locator('form#add-job-form .cm-content').first().click();
    await page.keyboard.press('Control+A');
    await page.keyboard.insertText('{"tenantId": "acme", "format": "csv"}');
    expect((await submit()).status()).toBe(200);
    const [added] = await reportQueue.getJobs(['waiting']);
    expect(added?.data).toEqual({ tenantId: 'acme', format: 'csv' });
    expect(added?.opts.attempts).toBe(reports.defaultJobOptions.attempts);
    expect(unexpectedViolations(session)).toEqual([]);
  },
  BROWSER_TEST_TIMEOUT_MS,
);

it(
  'a request without a session is sent to the login page, and back after logging in',
  async () => {
    const { url } = await setup();
    const session = await newSession();
    const { page } = session;
    await page.goto(`${url}/admin/queues/queue/emails`);
    expect(page.url()).toBe(`${url}/login?next=%2Fadmin%2Fqueues%2Fqueue%2Femails`);
    await page.locator('form[action="/login"]').waitFor();
    await page.screenshot({ path: join(ARTIFACTS, '07-login-redirect.png') });
    const api = await page.goto(`${url}/admin/queues/api/queues`);
    expect(api?.status()).toBe(401);
    await page.goto(`${url}/admin/queues/queue/emails`);
    await page.fill('input[name=username]', 'ops');
    await page.fill('input[name=password]', PASSWORDS.ops);
    await Promise.all([
      page.waitForURL(`${url}/admin/queues/queue/emails`),
      page.click('button[type=submit]'),
    ]);
    await page.getByText('Transactional e-mail').first().waitFor();
    expect(unexpectedViolations(session)).toEqual([]);
  },
  BROWSER_TEST_TIMEOUT_MS,
);

/** How far an element's content reaches beyond its visible box, sideways (0 when it all fits). */
const sidewaysOverflow = (page: Page, selector: string) =>
  page.locator(selector).evaluate((el) => el.scrollWidth - el.clientWidth);

it(
  'at 1280 px the overview shows every column without clipping, and bull-board pages log no console error',
  async () => {
    const { url, producer } = await setup();
    for (const to of ['a@example.com', 'b@example.com']) await producer.finished(to);
    const failed = await producer.finished(FAILING_ADDRESS);
    // Work waiting in a queue no worker serves: the widest cells (prioritized, oldest waiting).
    const reportQueue = new Queue(reports.name, { connection: { url: redis.url }, prefix: redis.prefix });
    cleanup.push(() => reportQueue.close());
    await reportQueue.add('daily-report', { tenantId: 'acme' });
    await reportQueue.add('daily-report', { tenantId: 'globex' }, { priority: 5 });

    const session = await newSession(1280);
    const { page } = session;
    await logIn(page, url, 'ops');
    await expect.poll(() => page.locator('[data-dead-letters="emails"]').textContent()).toBe('1');
    await page.locator('tr[data-queue="reports"] small').first().waitFor();
    await page.screenshot({ path: join(ARTIFACTS, '09-overview-1280.png'), fullPage: true });
    expect(await sidewaysOverflow(page, '.table-wrap')).toBeLessThanOrEqual(0);
    expect(await sidewaysOverflow(page, 'table.queues')).toBeLessThanOrEqual(0);
    expect(await sidewaysOverflow(page, 'html')).toBeLessThanOrEqual(0);
    // The last column is inside the window, not merely inside a scrolled box.
    const lastHeader = await page.locator('table.queues thead th').last().boundingBox();
    expect((lastHeader?.x ?? Infinity) + (lastHeader?.width ?? 0)).toBeLessThanOrEqual(1280);

    // bull-board: the queue list, a queue, a job (and the dead-letters queue and a record), each rendered.
    const records = new Queue(deadLetters.name, { connection: { url: redis.url }, prefix: redis.prefix });
    cleanup.push(() => records.close());
    const [record] = await records.getJobs(['waiting', 'completed']);
    const recordId = String(record?.id);
    for (const [path, shows] of [
      ['', 'dead-letters'],
      ['/queue/emails', 'Transactional e-mail'],
      ['/queue/emails?status=failed', `#${failed.id}`],
      [`/queue/emails/${failed.id}`, `#${failed.id}`],
      ['/queue/dead-letters', 'emails · welcome'],
      [`/queue/dead-letters/${encodeURIComponent(recordId)}`, recordId],
    ] as const) {
      await page.goto(`${url}/admin/queues${path}`);
      await page.getByText(shows).first().waitFor();
      await page.waitForLoadState('networkidle');
    }
    expect(session.consoleErrors).toEqual([]);
    expect(unexpectedViolations(session)).toEqual([]);
  },
  BROWSER_TEST_TIMEOUT_MS,
);

it(
  'admin: Retry on a dead-letter record redrives it, and the record then shows who redrove it, when, and the new job',
  async () => {
    const { url, worker, producer } = await setup();
    const indexer = startDeadLetterIndexer(redis);
    cleanup.push(() => indexer.close());
    await producer.finished(FAILING_ADDRESS);
    const recordId = await indexer.nextRecord();
    const newJobId = redriveJobId(recordId);

    const session = await newSession();
    const { page } = session;
    await logIn(page, url, 'ops');
    await page.goto(`${url}/admin/queues/queue/dead-letters?status=completed`);
    await page.getByText('emails · welcome', { exact: true }).waitFor();
    await page
      .getByText(/Retry on a record redrives it/)
      .first()
      .waitFor();
    worker.failing = false;
    const completed = producer.completion(newJobId);
    await page.locator('button:has(svg.lucide-refresh-cw)').filter({ hasNotText: /\S/ }).first().click();
    await page.getByRole('button', { name: 'Confirm' }).click();
    await completed;

    const link = page.getByRole('link', { name: /^redriven by dashboard:ops at .* UTC as job / });
    await link.waitFor();
    const href = await link.getAttribute('href');
    expect(href).toBe(`/admin/queues/queue/emails/${encodeURIComponent(newJobId)}`);
    await page.getByText('emails · welcome · redriven', { exact: true }).waitFor();
    await page.screenshot({ path: join(ARTIFACTS, '10-bull-board-dead-letter-redriven.png') });

    // Retry again: nothing is sent, and the operator is told why.
    await page.locator('button:has(svg.lucide-refresh-cw)').filter({ hasNotText: /\S/ }).first().click();
    await page.getByRole('button', { name: 'Confirm' }).click();
    await page.getByText('Already redriven').first().waitFor();
    await page
      .getByText(/was redriven by dashboard:ops at/)
      .first()
      .waitFor();
    await page.screenshot({ path: join(ARTIFACTS, '11-bull-board-dead-letter-already-redriven.png') });
    expect(
      await producer.queue.getJobCountByTypes('completed', 'waiting', 'active', 'delayed', 'failed'),
    ).toBe(2);

    // The new job, where the link leads.
    await page.goto(`${url}${href}`);
    await page.getByText(newJobId).first().waitFor();
    // The browser reports the refused second Retry itself; nothing else went wrong.
    expect(session.consoleErrors.filter((text) => !text.includes('responded with a status of 409'))).toEqual(
      [],
    );
    expect(unexpectedViolations(session)).toEqual([]);
  },
  BROWSER_TEST_TIMEOUT_MS,
);
