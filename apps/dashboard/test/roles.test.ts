import { catalog, emails, reports } from '@jobfleet/queue-contracts';
import { useTestRedis } from '@jobfleet/test-utils';
import type { Queue } from 'bullmq';
import { afterEach, describe, expect, it } from 'vitest';
import { BOARD_PATH } from '../src/paths.js';
import { boardRoutes, mutatingRoutes } from './board-routes.js';
import { asUser, login, startDashboard } from './helpers.js';
import { emailQueue, FAILING_ADDRESS, startEmailWorker } from './jobs.js';

const redis = useTestRedis();
const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

/** A dashboard, a real worker and the emails queue with one failed, one completed and one delayed job. */
async function setup() {
  const dashboard = await startDashboard(redis);
  cleanup.push(() => dashboard.close());
  const worker = startEmailWorker(redis);
  cleanup.push(() => worker.close());
  const producer = await emailQueue(redis);
  cleanup.push(() => producer.close());
  const failed = await producer.finished(FAILING_ADDRESS);
  expect(await failed.getState()).toBe('failed');
  const completed = await producer.finished('ok@example.com');
  expect(await completed.getState()).toBe('completed');
  const delayed = await producer.queue.add(
    'welcome',
    { userId: 2, to: 'later@example.com' },
    { delay: 3_600_000 },
  );
  return {
    ...dashboard,
    worker,
    producer,
    ids: { failed: String(failed.id), completed: String(completed.id), delayed: String(delayed.id) },
    admin: await login(dashboard.app, 'ops'),
    viewer: await login(dashboard.app, 'watcher'),
  };
}

/** Everything a mutation could change about a queue. */
async function snapshot(queue: Queue, ids: Record<string, string>) {
  return {
    counts: await queue.getJobCounts(),
    paused: await queue.isPaused(),
    states: Object.fromEntries(
      await Promise.all(Object.entries(ids).map(async ([k, id]) => [k, await queue.getJobState(id)])),
    ),
    data: (await queue.getJob(ids.failed ?? ''))?.data,
  };
}

describe('a viewer', () => {
  it('is refused with 403 on every state-changing request, whatever the route or method, and nothing changes', async () => {
    const { app, viewer, producer, ids } = await setup();
    const before = await snapshot(producer.queue, ids);
    const urls = new Set(boardRoutes({ queueName: emails.name, jobId: ids.failed }).map((r) => r.url));
    urls.add(`${BOARD_PATH}/api/queues/${emails.name}/${ids.delayed}/promote`);
    urls.add('/');
    urls.add(`${BOARD_PATH}/api/no-such-route`);
    const tried: string[] = [];
    for (const url of urls) {
      for (const method of ['POST', 'PUT', 'PATCH', 'DELETE'] as const) {
        const response = await app.inject({
          method,
          url,
          headers: asUser(viewer, { 'content-type': 'application/json' }),
          payload: JSON.stringify({ name: 'welcome', data: { userId: 1, to: 'x@example.com' }, jobData: {} }),
        });
        expect(response.statusCode, `${method} ${url}`).toBe(403);
        expect(response.json(), `${method} ${url}`).toMatchObject({ title: 'Read-only access', status: 403 });
        tried.push(`${method} ${url}`);
      }
    }
    // Every mutating route bull-board has was among them, with its own method.
    for (const route of mutatingRoutes({ queueName: emails.name, jobId: ids.failed })) {
      expect(tried).toContain(`${route.method} ${route.url}`);
    }
    expect(await snapshot(producer.queue, ids)).toEqual(before);
  });

  it('gets bull-board in read-only mode on every queue, and can read everything', async () => {
    const { app, viewer, admin, ids } = await setup();
    const asViewer = await app.inject({
      url: `${BOARD_PATH}/api/queues?activeQueue=emails`,
      headers: { cookie: viewer },
    });
    expect(asViewer.statusCode).toBe(200);
    const queues = asViewer.json().queues as Array<{
      name: string;
      readOnlyMode: boolean;
      allowRetries: boolean;
    }>;
    expect(queues.map((q) => q.name).sort()).toEqual([...Object.keys(catalog), 'dead-letters'].sort());
    for (const q of queues) expect(q, q.name).toMatchObject({ readOnlyMode: true, allowRetries: false });
    const asAdmin = await app.inject({ url: `${BOARD_PATH}/api/queues`, headers: { cookie: admin } });
    for (const q of asAdmin.json().queues as typeof queues) {
      expect(q, q.name).toMatchObject({ readOnlyMode: false, allowRetries: true });
    }
    for (const route of boardRoutes({ queueName: emails.name, jobId: ids.failed }).filter(
      (r) => r.method === 'GET',
    )) {
      if (route.pattern.includes('job-schedulers') || route.pattern.includes(':jobId/flow')) continue;
      const response = await app.inject({ url: route.url, headers: { cookie: viewer } });
      expect(response.statusCode, route.url).toBe(200);
    }
    const page = await app.inject({ url: BOARD_PATH, headers: { cookie: viewer } });
    expect(page.body).toContain('viewer · read-only');
  });
});

describe('an admin', () => {
  it('retries a failed job, which then completes', async () => {
    const { app, admin, worker, producer, ids } = await setup();
    worker.failing = false;
    const done = producer.completion(ids.failed);
    const response = await app.inject({
      method: 'PUT',
      url: `${BOARD_PATH}/api/queues/emails/${ids.failed}/retry`,
      headers: asUser(admin),
    });
    expect(response.statusCode).toBe(204);
    await done;
    expect(await producer.queue.getJobState(ids.failed)).toBe('completed');
  });

  it('promotes a delayed job, cleans a completed job, pauses and resumes a queue', async () => {
    const { app, admin, producer, ids } = await setup();
    const put = (path: string) =>
      app.inject({ method: 'PUT', url: `${BOARD_PATH}/api/queues/emails${path}`, headers: asUser(admin) });
    expect((await put('/pause')).statusCode).toBe(200);
    expect(await producer.queue.isPaused()).toBe(true);
    expect((await put(`/${ids.delayed}/promote`)).statusCode).toBe(204);
    expect(await producer.queue.getJobState(ids.delayed)).toBe('waiting');
    // bull-board's clean-all keeps jobs younger than 5 s; one job at a time has no grace period.
    expect((await put(`/${ids.completed}/clean`)).statusCode).toBe(204);
    expect(await producer.queue.getJob(ids.completed)).toBeUndefined();
    expect((await put('/resume')).statusCode).toBe(200);
    expect(await producer.queue.isPaused()).toBe(false);
  });

  it('adds a job only when its data passes the contract, as the gateway requires', async () => {
    const { app, admin, producer } = await setup();
    const add = (body: object, queue = 'emails') =>
      app.inject({
        method: 'POST',
        url: `${BOARD_PATH}/api/queues/${queue}/add`,
        headers: asUser(admin),
        payload: body,
      });
    const bad = await add({
      name: 'welcome',
      data: { userId: 1, to: 'not an address', extra: 1 },
      options: {},
    });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.key).toBe('ERRORS.INVALID_REQUEST_BODY');
    expect(bad.json().message).toContain('/to');
    expect(bad.json().message).toContain('/extra is not an allowed property');
    const unknown = await add({ name: '__default__', data: {}, options: {} });
    expect(unknown.statusCode).toBe(400);
    expect(unknown.json().message).toContain('its jobs are: welcome, password-reset, notification');
    const before = await producer.queue.count();
    const good = await add({ name: 'welcome', data: { userId: 7, to: 'new@example.com' }, options: {} });
    expect(good.statusCode).toBe(200);
    const added = await producer.queue.getJob(String(good.json().job.id));
    expect(added?.data).toEqual({ userId: 7, to: 'new@example.com' });
    // The contract's defaults, as for jobs the gateway adds.
    expect(added?.opts.attempts).toBe(emails.defaultJobOptions.attempts);
    expect(await producer.queue.count()).toBeGreaterThanOrEqual(before);
    const report = await add(
      { name: 'daily-report', data: { tenantId: 'Bad Tenant' }, options: {} },
      'reports',
    );
    expect(report.statusCode).toBe(400);
  });

  it('cannot edit a job into data the contract refuses', async () => {
    const { app, admin, producer, ids } = await setup();
    const edit = (jobData: object) =>
      app.inject({
        method: 'PATCH',
        url: `${BOARD_PATH}/api/queues/emails/${ids.failed}/update-data`,
        headers: asUser(admin),
        payload: { jobData },
      });
    expect((await edit({ userId: 1, to: 'broken' })).statusCode).toBe(400);
    expect((await edit({ userId: 1, to: 'fixed@example.com' })).statusCode).toBe(200);
    expect((await producer.queue.getJob(ids.failed))?.data).toEqual({ userId: 1, to: 'fixed@example.com' });
  });
});

it("gives bull-board's Add-job form the contracts' schemas as jobDataSchema", async () => {
  const { app } = await startDashboard(redis).then((d) => {
    cleanup.push(() => d.close());
    return d;
  });
  const cookie = await login(app, 'ops');
  const emailSchema = (
    await app.inject({ url: `${BOARD_PATH}/api/queues/emails/job-data-schema`, headers: { cookie } })
  ).json();
  expect(emailSchema.anyOf.map((s: { title: string }) => s.title)).toEqual(Object.keys(emails.jobs));
  expect(emailSchema.anyOf[0]).toMatchObject(JSON.parse(JSON.stringify(emails.jobs.welcome.data)));
  const reportSchema = (
    await app.inject({ url: `${BOARD_PATH}/api/queues/reports/job-data-schema`, headers: { cookie } })
  ).json();
  expect(reportSchema).toMatchObject(JSON.parse(JSON.stringify(reports.jobs['daily-report'].data)));
  const dlqSchema = (
    await app.inject({ url: `${BOARD_PATH}/api/queues/dead-letters/job-data-schema`, headers: { cookie } })
  ).json();
  expect(dlqSchema.required).toContain('failedReason');
});
