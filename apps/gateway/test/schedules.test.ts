import { originOf } from '@jobfleet/queue-contracts';
import { useTestRedis } from '@jobfleet/test-utils';
import { Worker } from 'bullmq';
import { CronExpressionParser } from 'cron-parser';
import type { FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { bearer, everythingQueued, inspectQueue, SECRETS, startGateway, welcome } from './helpers.js';

const redis = useTestRedis();
let app: FastifyInstance;

beforeEach(async () => {
  app = await startGateway(redis);
});
afterEach(async () => {
  await app.close();
});

const put = (id: string, payload: unknown, secret = SECRETS.acmeOps, queue = 'reports') =>
  app.inject({
    method: 'PUT',
    url: `/v1/queues/${queue}/schedules/${id}`,
    headers: { ...bearer(secret), 'content-type': 'application/json' },
    payload: JSON.stringify(payload),
  });
const get = (url: string, secret = SECRETS.acmeOps) =>
  app.inject({ method: 'GET', url, headers: bearer(secret) });
const remove = (id: string, secret = SECRETS.acmeOps, queue = 'reports') =>
  app.inject({ method: 'DELETE', url: `/v1/queues/${queue}/schedules/${id}`, headers: bearer(secret) });

/** The README example: tenant acme's daily report at 02:00. */
const dailyReport = { name: 'daily-report', data: { tenantId: 'acme', format: 'pdf' }, cron: '0 2 * * *' };

describe('schedules', () => {
  it('PUT creates (201), PUT again replaces (200), GET lists with the next run, DELETE removes (204)', async () => {
    const created = await put('daily-report-acme', { ...dailyReport, timezone: 'Europe/Berlin' });
    expect(created.statusCode, created.body).toBe(201);
    const expectedNext = CronExpressionParser.parse('0 2 * * *', { tz: 'Europe/Berlin' }).next().getTime();
    expect(created.json()).toEqual({
      id: 'daily-report-acme',
      queue: 'reports',
      name: 'daily-report',
      data: { tenantId: 'acme', format: 'pdf' },
      cron: '0 2 * * *',
      timezone: 'Europe/Berlin',
      runs: 0,
      nextRunAt: new Date(expectedNext).toISOString(),
    });
    // BullMQ keeps the next run as a delayed job, with the contract's options and the origin.
    const delayed = await inspectQueue(redis, 'reports').getJobs(['delayed']);
    expect(delayed).toHaveLength(1);
    expect(delayed[0]?.opts).toMatchObject({ attempts: 3, backoff: { type: 'exponential', delay: 5_000 } });
    expect(originOf(delayed[0] ?? { opts: {} })).toEqual({ client: 'acme-ops', tenant: 'acme' });

    const replaced = await put('daily-report-acme', { ...dailyReport, cron: '30 3 * * 1-5', limit: 10 });
    expect(replaced.statusCode).toBe(200);
    expect(replaced.json()).toMatchObject({ cron: '30 3 * * 1-5', limit: 10 });
    expect(replaced.json()).not.toHaveProperty('timezone');

    await put('every-minute', { name: 'daily-report', data: { tenantId: 'acme' }, everyMs: 60_000 });
    const list = await get('/v1/queues/reports/schedules');
    expect(list.statusCode).toBe(200);
    const schedules = list.json<{ schedules: { id: string; nextRunAt: string }[] }>().schedules;
    expect(schedules.map((s) => s.id).sort()).toEqual(['daily-report-acme', 'every-minute']);
    for (const schedule of schedules) expect(Date.parse(schedule.nextRunAt)).toBeGreaterThan(0);
    expect((await get('/v1/queues/reports/schedules/every-minute')).json()).toMatchObject({
      everyMs: 60_000,
    });

    expect((await remove('daily-report-acme')).statusCode).toBe(204);
    expect((await remove('daily-report-acme')).statusCode).toBe(404);
    expect((await get('/v1/queues/reports/schedules/daily-report-acme')).statusCode).toBe(404);
    const after = await get('/v1/queues/reports/schedules');
    expect(after.json<{ schedules: { id: string }[] }>().schedules.map((s) => s.id)).toEqual([
      'every-minute',
    ]);
  });

  it('a schedule makes jobs that carry its origin, run after run', async () => {
    const response = await put('fast', { name: 'daily-report', data: { tenantId: 'acme' }, everyMs: 1_000 });
    expect(response.statusCode).toBe(201);
    const origins: unknown[] = [];
    let done: () => void = () => {};
    const twoRuns = new Promise<void>((resolve) => {
      done = resolve;
    });
    const worker = new Worker(
      'reports',
      async (job) => {
        origins.push(originOf(job));
        if (origins.length === 2) done();
        return null;
      },
      { connection: redis.connection(), prefix: redis.prefix },
    );
    try {
      await twoRuns;
    } finally {
      await worker.close();
    }
    expect(origins).toEqual([
      { client: 'acme-ops', tenant: 'acme' },
      { client: 'acme-ops', tenant: 'acme' },
    ]);
  });

  it('an invalid cron expression or time zone, or a bad combination → 400; nothing is saved', async () => {
    const cases: [object, string][] = [
      [{ ...dailyReport, cron: '61 * * * *' }, '/cron'],
      [{ ...dailyReport, cron: 'every day' }, '/cron'],
      [{ ...dailyReport, cron: '* * *' }, '/cron'],
      [{ ...dailyReport, cron: '0 0 31 2 *' }, '/cron'],
      [{ ...dailyReport, timezone: 'Mars/Olympus_Mons' }, '/timezone'],
      [{ name: 'daily-report', data: { tenantId: 'acme' } }, '/cron'],
      [{ ...dailyReport, everyMs: 60_000 }, '/everyMs'],
      [{ name: 'daily-report', data: { tenantId: 'acme' }, everyMs: 60_000, timezone: 'UTC' }, '/timezone'],
      [{ name: 'daily-report', data: { tenantId: 'acme' }, everyMs: 10 }, '/everyMs'],
      [{ ...dailyReport, endDate: '2001-01-01T00:00:00Z' }, '/endDate'],
      [{ ...dailyReport, startDate: '2999-01-02T00:00:00Z', endDate: '2999-01-01T00:00:00Z' }, '/endDate'],
      [{ ...dailyReport, data: { tenantId: 'ACME!' } }, '/data/tenantId'],
      [{ ...dailyReport, name: 'weekly-report' }, '/name'],
      [{ ...dailyReport, options: { attempts: 2 } }, '/options'],
      [{ ...dailyReport, limit: 0 }, '/limit'],
    ];
    for (const [body, path] of cases) {
      const response = await put('bad', body);
      expect(response.statusCode, JSON.stringify(body)).toBe(400);
      expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
      const problem = response.json<{ errors: { path: string }[] }>();
      expect(
        problem.errors.map((e) => e.path),
        JSON.stringify(body),
      ).toContain(path);
    }
    expect(await everythingQueued(redis)).toBe(0);
    // A bad schedule id is a 400 too.
    expect((await put('has space', dailyReport)).statusCode).toBe(400);
    expect((await put(`x${'y'.repeat(200)}`, dailyReport)).statusCode).toBe(400);
  });

  it('checks the payload of each queue against its own contract', async () => {
    const emailSchedule = { ...welcome, cron: '0 9 * * 1' };
    const response = await put('monday-welcome', emailSchedule, SECRETS.ops, 'emails');
    expect(response.statusCode).toBe(201);
    const wrong = await put('monday-welcome', { ...dailyReport }, SECRETS.ops, 'emails');
    expect(wrong.statusCode).toBe(400);
    expect(wrong.json<{ errors: { message: string }[] }>().errors[0]?.message).toContain('"welcome"');
  });

  it('needs <queue>:manage; an unknown queue → 404', async () => {
    expect((await put('x', dailyReport, SECRETS.reportsOnly)).statusCode).toBe(403); // enqueue + read
    expect((await get('/v1/queues/reports/schedules', SECRETS.reportsOnly)).statusCode).toBe(403);
    expect((await remove('x', SECRETS.reportsOnly)).statusCode).toBe(403);
    expect((await put('x', dailyReport, SECRETS.admin, 'nope')).statusCode).toBe(404);
    expect((await get('/v1/queues/nope/schedules', SECRETS.admin)).statusCode).toBe(404);
    const anonymous = await app.inject({ method: 'GET', url: '/v1/queues/reports/schedules' });
    expect(anonymous.statusCode).toBe(401);
    expect(await everythingQueued(redis)).toBe(0);
  });

  it("hides other tenants' schedules and refuses to take over their ids", async () => {
    expect((await put('nightly', dailyReport, SECRETS.ops)).statusCode).toBe(201); // tenant default
    expect((await put('acme-nightly', dailyReport)).statusCode).toBe(201); // acme
    const acmeView = await get('/v1/queues/reports/schedules');
    expect(acmeView.json<{ schedules: { id: string }[] }>().schedules.map((s) => s.id)).toEqual([
      'acme-nightly',
    ]);
    expect((await get('/v1/queues/reports/schedules/nightly')).statusCode).toBe(404);
    expect((await remove('nightly')).statusCode).toBe(404);
    const takeover = await put('nightly', { ...dailyReport, cron: '* * * * *' });
    expect(takeover.statusCode).toBe(409);
    expect(takeover.json()).toMatchObject({ code: 'JOBFLEET_SCHEDULE_ID_TAKEN' });
    const platform = await get('/v1/queues/reports/schedules', SECRETS.ops);
    const all = platform.json<{ schedules: { id: string; cron: string }[] }>().schedules;
    expect(all.map((s) => s.id).sort()).toEqual(['acme-nightly', 'nightly']);
    expect(all.find((s) => s.id === 'nightly')?.cron).toBe('0 2 * * *');
  });
});
