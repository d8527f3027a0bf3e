import { originOf } from '@jobfleet/queue-contracts';
import { useTestRedis } from '@jobfleet/test-utils';
import { Queue } from 'bullmq';
import type { FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { bearer, everythingQueued, inspectQueue, SECRETS, startGateway, welcome } from './helpers.js';

const redis = useTestRedis();
let app: FastifyInstance;

beforeEach(async () => {
  app = await startGateway(redis);
});
afterEach(async () => {
  vi.restoreAllMocks();
  await app.close();
});

const batch = (payload: unknown, secret = SECRETS.signup, queue = 'emails') =>
  app.inject({
    method: 'POST',
    url: `/v1/queues/${queue}/jobs/batch`,
    headers: { ...bearer(secret), 'content-type': 'application/json' },
    payload: JSON.stringify(payload),
  });

const user = (n: number) => ({ name: 'welcome', data: { userId: n, to: `u${n}@example.com` } });

describe('POST /v1/queues/:queue/jobs/batch', () => {
  it.each([
    { size: 1, adds: 1, bulks: 0 },
    { size: 3, adds: 3, bulks: 0 },
    { size: 10, adds: 10, bulks: 0 },
    { size: 11, adds: 0, bulks: 1 },
  ])(
    'adds a batch of $size jobs (an add each up to 10, one addBulk above) → 202 with the ids in request order',
    async ({ size, adds, bulks }) => {
      const addBulk = vi.spyOn(Queue.prototype, 'addBulk');
      const add = vi.spyOn(Queue.prototype, 'add');
      const jobs = [
        { ...user(1), options: { delay: 60_000, attempts: 2 } },
        { name: 'notification', data: { to: 'ada@example.com', subject: 'Hi', text: 'Hello' } },
        ...Array.from({ length: 8 }, (_, i) => user(3 + i)),
        user(11),
      ].slice(0, size);
      const response = await batch({ jobs });
      expect(response.statusCode, response.body).toBe(202);
      const body = response.json<{ jobs: { id: string; name: string; duplicate: boolean }[] }>();
      expect(body.jobs.map((j) => [j.name, j.duplicate])).toEqual(jobs.map((job) => [job.name, false]));
      expect(new Set(body.jobs.map((j) => j.id)).size).toBe(size);
      expect(addBulk).toHaveBeenCalledTimes(bulks);
      expect(add).toHaveBeenCalledTimes(adds);

      const queue = inspectQueue(redis, 'emails');
      for (const [i, { id }] of body.jobs.entries()) {
        const job = await queue.getJob(id);
        expect(job?.data).toEqual(jobs[i]?.data);
        expect(originOf(job ?? { opts: {} })).toEqual({ client: 'signup-service', tenant: 'acme' });
      }
      const first = await queue.getJob(body.jobs[0]?.id ?? '');
      expect(first?.opts).toMatchObject({ delay: 60_000, attempts: 2, backoff: { type: 'exponential' } });
    },
  );

  it('takes 1000 jobs and refuses 0 or 1001', async () => {
    const thousand = Array.from({ length: 1_000 }, (_, i) => user(i));
    const ok = await batch({ jobs: thousand });
    expect(ok.statusCode).toBe(202);
    expect(ok.json<{ jobs: unknown[] }>().jobs).toHaveLength(1_000);
    expect(await inspectQueue(redis, 'emails').count()).toBe(1_000);

    await app.close();
    app = await startGateway(redis);
    const before = await inspectQueue(redis, 'emails').count();
    for (const jobs of [[], [...thousand, user(1_000)]]) {
      const refused = await batch({ jobs });
      expect(refused.statusCode).toBe(400);
      expect(refused.json()).toMatchObject({ errors: [{ path: '/jobs' }] });
    }
    expect(await inspectQueue(redis, 'emails').count()).toBe(before);
  });

  it('is all or nothing: one bad job refuses the batch, naming every failing index and path', async () => {
    const response = await batch({
      jobs: [
        user(1),
        { name: 'welcome', data: { userId: 2, to: 'not-an-email' } },
        user(3),
        { name: 'goodbye', data: {} },
        { ...user(5), options: { jobId: '12345' } },
        { ...user(6), extra: true },
      ],
    });
    expect(response.statusCode).toBe(400);
    const problem = response.json<{ errors: { path: string; message: string }[] }>();
    const paths = problem.errors.map((e) => e.path);
    expect(paths).toEqual(
      expect.arrayContaining(['/jobs/1/data/to', '/jobs/3/name', '/jobs/4/options/jobId', '/jobs/5/extra']),
    );
    expect(paths.some((p) => p.startsWith('/jobs/0') || p.startsWith('/jobs/2'))).toBe(false);
    expect(await everythingQueued(redis)).toBe(0);
  });

  it('refuses a body that is not { jobs: [...] }', async () => {
    for (const payload of [[user(1)], { jobs: user(1) }, { jobs: [user(1)], more: 1 }, {}]) {
      expect((await batch(payload)).statusCode, JSON.stringify(payload)).toBe(400);
    }
    expect(await everythingQueued(redis)).toBe(0);
  });

  it('reports custom ids that exist, or repeat within the batch, as duplicates; 200 when nothing is new', async () => {
    const first = await batch({ jobs: [{ ...user(1), options: { jobId: 'welcome-1' } }] });
    expect(first.json()).toEqual({ jobs: [{ id: 'welcome-1', name: 'welcome', duplicate: false }] });
    const second = await batch({
      jobs: [
        { ...user(1), options: { jobId: 'welcome-1' } },
        { ...user(2), options: { jobId: 'welcome-2' } },
        { ...user(2), options: { jobId: 'welcome-2' } },
        user(3),
      ],
    });
    expect(second.statusCode).toBe(202);
    const jobs = second.json<{ jobs: { id: string; duplicate: boolean }[] }>().jobs;
    expect(jobs.map((j) => [j.id, j.duplicate])).toEqual([
      ['welcome-1', true],
      ['welcome-2', false],
      ['welcome-2', true],
      [expect.any(String), false],
    ]);
    expect(await inspectQueue(redis, 'emails').count()).toBe(3);
    const replay = await batch({ jobs: [{ ...user(1), options: { jobId: 'welcome-1' } }] });
    expect(replay.statusCode).toBe(200);
  });

  it("refuses (409) a batch with a custom id of another tenant's job, and adds none of it", async () => {
    const report = (tenantId: string, jobId?: string) => ({
      name: 'daily-report',
      data: { tenantId },
      ...(jobId ? { options: { jobId } } : {}),
    });
    // Posted by a key without tenant: the job counts as tenant `default`.
    expect((await batch({ jobs: [report('acme', 'nightly')] }, SECRETS.admin, 'reports')).statusCode).toBe(
      202,
    );
    const clash = await batch(
      { jobs: [report('globex'), report('globex', 'nightly')] },
      SECRETS.reportsOnly, // tenant globex
      'reports',
    );
    expect(clash.statusCode).toBe(409);
    expect(clash.json()).toMatchObject({ code: 'JOBFLEET_JOB_ID_TAKEN' });
    expect(await inspectQueue(redis, 'reports').count()).toBe(1);
    // A key without tenant sees every tenant: the same id is its duplicate, not a conflict.
    const platform = await batch({ jobs: [report('x', 'nightly')] }, SECRETS.ops, 'reports');
    expect(platform.statusCode).toBe(200);
    expect(platform.json()).toEqual({ jobs: [{ id: 'nightly', name: 'daily-report', duplicate: true }] });
  });

  it('unknown queue → 404, no key → 401, a key without <queue>:enqueue → 403', async () => {
    const unknown = await app.inject({
      method: 'POST',
      url: '/v1/queues/nope/jobs/batch',
      headers: bearer(SECRETS.admin),
      payload: { jobs: [welcome] },
    });
    expect(unknown.statusCode).toBe(404);
    const anonymous = await app.inject({
      method: 'POST',
      url: '/v1/queues/emails/jobs/batch',
      payload: { jobs: [welcome] },
    });
    expect(anonymous.statusCode).toBe(401);
    expect((await batch({ jobs: [welcome] }, SECRETS.reportsOnly)).statusCode).toBe(403);
    expect(await everythingQueued(redis)).toBe(0);
  });
});
