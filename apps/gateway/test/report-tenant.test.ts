import { useTestRedis } from '@jobfleet/test-utils';
import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { bearer, everythingQueued, SECRETS, startGateway } from './helpers.js';

const redis = useTestRedis();
let app: FastifyInstance | undefined;

afterEach(async () => {
  await app?.close();
  app = undefined;
});

const report = (tenantId: string) => ({ name: 'daily-report', data: { tenantId, format: 'csv' } });

const post = (url: string, secret: string, payload: object, headers: Record<string, string> = {}) =>
  app?.inject({ method: 'POST', url, headers: { ...bearer(secret), ...headers }, payload });

function expectMismatch(response: Awaited<ReturnType<typeof post>>, path: string) {
  expect(response?.statusCode).toBe(422);
  expect(response?.headers['content-type']).toMatch(/^application\/problem\+json/);
  const problem = response?.json<{ code: string; detail: string }>();
  expect(problem?.code).toBe('JOBFLEET_REPORT_TENANT_MISMATCH');
  expect(problem?.detail).toContain(path);
}

describe("a tenant key asking for another tenant's daily-report", () => {
  it('is refused with 422 on the single enqueue route, before anything is queued or an Idempotency-Key claimed', async () => {
    app = await startGateway(redis);
    const url = '/v1/queues/reports/jobs';
    const headers = { 'idempotency-key': 'report-1' };
    expectMismatch(await post(url, SECRETS.reportsOnly, report('acme'), headers), '/data/tenantId');
    expect(await everythingQueued(redis)).toBe(0);
    // The key was not spent on the refused request.
    expect((await post(url, SECRETS.reportsOnly, report('globex'), headers))?.statusCode).toBe(202);
    // A key without a tenant may ask for any tenant's report.
    expect((await post(url, SECRETS.ops, report('acme')))?.statusCode).toBe(202);
    expect(await everythingQueued(redis)).toBe(2);
  });

  it('refuses the whole batch, naming the job', async () => {
    app = await startGateway(redis);
    const refused = await post('/v1/queues/reports/jobs/batch', SECRETS.reportsOnly, {
      jobs: [report('globex'), report('acme')],
    });
    expectMismatch(refused, '/jobs/1/data/tenantId');
    expect(await everythingQueued(redis)).toBe(0);
    const accepted = await post('/v1/queues/reports/jobs/batch', SECRETS.reportsOnly, {
      jobs: [report('globex'), report('globex')],
    });
    expect(accepted?.statusCode).toBe(202);
  });

  it('refuses the schedule', async () => {
    app = await startGateway(redis);
    const put = (tenantId: string) =>
      app?.inject({
        method: 'PUT',
        url: '/v1/queues/reports/schedules/nightly',
        headers: bearer(SECRETS.acmeOps),
        payload: { ...report(tenantId), cron: '0 2 * * *' },
      });
    expectMismatch(await put('globex'), '/data/tenantId');
    expect(await everythingQueued(redis)).toBe(0);
    expect((await put('acme'))?.statusCode).toBe(201);
  });
});
