import { once } from 'node:events';
import { emails, ORIGIN_OPTION } from '@jobfleet/queue-contracts';
import { createRedisConnection } from '@jobfleet/service-kit';
import { Worker } from 'bullmq';
import { describe, expect, it } from 'vitest';
import { buildGateway } from '../src/app.js';
import {
  bearer,
  EVERY_JOB,
  enqueue,
  inspectQueue,
  memoryLogger,
  SECRETS,
  startGateway,
  testConfig,
  useGateway,
  welcome,
} from './helpers.js';

const { redis, startApp } = useGateway();

describe('POST /v1/queues/:queue/jobs', () => {
  it('accepts a valid welcome job with 202, stores it with the contract defaults, and GET shows it waiting', async () => {
    const app = await startApp();
    const response = await enqueue(app, SECRETS.signup);
    expect(response.statusCode).toBe(202);
    const body = response.json<{ id: string; queue: string; name: string }>();
    expect(body).toEqual({ id: expect.any(String), queue: 'emails', name: 'welcome', duplicate: false });
    expect(response.headers.location).toBe(`/v1/queues/emails/jobs/${body.id}`);

    const queue = inspectQueue(redis, 'emails');
    const job = await queue.getJob(body.id);
    expect(job?.name).toBe('welcome');
    expect(job?.data).toEqual(welcome.data);
    expect(job?.opts).toMatchObject({
      attempts: 5,
      backoff: { type: 'exponential', delay: 1_000 },
      removeOnComplete: emails.defaultJobOptions.removeOnComplete,
      removeOnFail: emails.defaultJobOptions.removeOnFail,
    });
    expect(await job?.getState()).toBe('waiting');

    const status = await app.inject({
      method: 'GET',
      url: `/v1/queues/emails/jobs/${body.id}`,
      headers: bearer(SECRETS.signup),
    });
    expect(status.statusCode).toBe(200);
    const shown = status.json<Record<string, unknown>>();
    expect(shown).toEqual({
      id: body.id,
      queue: 'emails',
      name: 'welcome',
      state: 'waiting',
      attemptsMade: 0,
      progress: 0,
      data: welcome.data,
      options: { attempts: 5, backoff: { type: 'exponential', delay: 1_000 } },
      origin: { client: 'signup-service', tenant: 'acme' },
      createdAt: new Date(job?.timestamp ?? 0).toISOString(),
    });
    // The origin record stays out of the payload and out of the status.
    expect(JSON.stringify(shown)).not.toContain(ORIGIN_OPTION);
  });

  it('applies the allowed options over the contract defaults', async () => {
    const app = await startApp();
    const response = await enqueue(app, SECRETS.admin, {
      ...welcome,
      options: { delay: 60_000, attempts: 2, priority: 7 },
    });
    expect(response.statusCode).toBe(202);
    const job = await inspectQueue(redis, 'emails').getJob(response.json<{ id: string }>().id);
    expect(job?.opts).toMatchObject({
      delay: 60_000,
      attempts: 2,
      priority: 7,
      backoff: { type: 'exponential', delay: 1_000 },
    });
    expect(await job?.getState()).toBe('delayed');
    const status = await app.inject({
      method: 'GET',
      url: `/v1/queues/emails/jobs/${job?.id}`,
      headers: bearer(SECRETS.admin),
    });
    expect(status.json()).toMatchObject({ state: 'delayed' });
  });

  it('applies backoff and a custom jobId; the same id again → 200 duplicate, without a new job', async () => {
    const app = await startApp();
    const options = {
      jobId: 'welcome-123',
      backoff: { type: 'fixed', delay: 250, jitter: 0.5 },
      attempts: 3,
    };
    const first = await enqueue(app, SECRETS.signup, { ...welcome, options });
    expect(first.statusCode).toBe(202);
    expect(first.json()).toEqual({ id: 'welcome-123', queue: 'emails', name: 'welcome', duplicate: false });
    const job = await inspectQueue(redis, 'emails').getJob('welcome-123');
    expect(job?.opts).toMatchObject({ attempts: 3, backoff: { type: 'fixed', delay: 250, jitter: 0.5 } });

    const again = await enqueue(app, SECRETS.signup, {
      ...welcome,
      data: { ...welcome.data, name: 'Someone else' },
      options,
    });
    expect(again.statusCode).toBe(200);
    expect(again.json()).toEqual({ id: 'welcome-123', queue: 'emails', name: 'welcome', duplicate: true });
    expect((await inspectQueue(redis, 'emails').getJob('welcome-123'))?.data).toEqual(welcome.data);
    expect(await inspectQueue(redis, 'emails').count()).toBe(1);
  });

  it("a custom jobId of another tenant's job → 409, and that job stays as it was", async () => {
    const app = await startApp();
    // The admin key has no tenant: its job counts as tenant `default`; the signup key is tenant acme.
    const posted = await enqueue(app, SECRETS.admin, { ...welcome, options: { jobId: 'vip' } });
    expect(posted.statusCode).toBe(202);
    const clash = await enqueue(app, SECRETS.signup, { ...welcome, options: { jobId: 'vip' } });
    expect(clash.statusCode).toBe(409);
    expect(clash.json()).toMatchObject({ code: 'JOBFLEET_JOB_ID_TAKEN' });
    expect(await inspectQueue(redis, 'emails').count()).toBe(1);
  });

  it('reports a prioritised job as prioritized', async () => {
    const app = await startApp();
    const response = await enqueue(app, SECRETS.admin, { ...welcome, options: { priority: 3 } });
    const { id } = response.json<{ id: string }>();
    expect(await (await inspectQueue(redis, 'emails').getJob(id))?.getState()).toBe('prioritized');
    const status = await app.inject({
      method: 'GET',
      url: `/v1/queues/emails/jobs/${id}`,
      headers: bearer(SECRETS.admin),
    });
    expect(status.json()).toMatchObject({ state: 'prioritized', options: { priority: 3 } });
  });

  it('accepts every job type of every catalog queue', async () => {
    const app = await startApp();
    for (const { queue, name, data } of EVERY_JOB) {
      const response = await enqueue(app, SECRETS.admin, { name, data }, { queue });
      expect(response.statusCode, `${queue}/${name}: ${response.body}`).toBe(202);
      const job = await inspectQueue(redis, queue).getJob(response.json<{ id: string }>().id);
      expect(job?.data).toEqual(data);
    }
    const reports = await inspectQueue(redis, 'reports').getJobs(['waiting']);
    expect(reports[0]?.opts).toMatchObject({ attempts: 3, backoff: { type: 'exponential', delay: 5_000 } });
  });

  it("judges formats as the worker's TypeBox check does, not as ajv-formats would", async () => {
    const app = await startApp();
    // TypeBox accepts a dotless domain and a quoted local part; ajv-formats' email check rejects both.
    for (const to of ['ada@localhost', '"ada lovelace"@example.com']) {
      const response = await enqueue(app, SECRETS.admin, { name: 'welcome', data: { userId: 1, to } });
      expect(response.statusCode, `${to}: ${response.body}`).toBe(202);
    }
  });

  it('echoes a printable X-Request-Id, replaces an unusable one, and logs request_id', async () => {
    const { logger, lines } = memoryLogger();
    const app = await startApp({ logger });
    const given = await enqueue(app, SECRETS.signup, welcome, {
      headers: { 'x-request-id': 'trace-abc-123' },
    });
    expect(given.headers['x-request-id']).toBe('trace-abc-123');
    expect(lines.some((l) => l.request_id === 'trace-abc-123')).toBe(true);

    for (const bad of ['x'.repeat(129), 'tab\there']) {
      const response = await app.inject({
        method: 'GET',
        url: '/health/live',
        headers: { 'x-request-id': bad },
      });
      expect(response.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    }
    const generated = await app.inject({ method: 'GET', url: '/nope' });
    expect(generated.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    // No secret reaches the log, whatever was logged.
    expect(JSON.stringify(lines)).not.toContain(SECRETS.signup);
  });

  it("logs a route's own line with the request's id, and keeps a quieter route's request line out", async () => {
    const { logger, lines } = memoryLogger();
    const app = await startApp({ logger });
    // A refused payload: the error handler logs the problem through `request.log`.
    const refused = await enqueue(
      app,
      SECRETS.signup,
      { name: 'welcome', data: { userId: 'one' } },
      { headers: { 'x-request-id': 'refused-1' } },
    );
    expect(refused.statusCode).toBe(400);
    expect(
      lines.filter((l) => l.request_id === 'refused-1' && l.status === 400 && l.msg !== 'request completed'),
    ).toHaveLength(1);
    // The OpenAPI document's route logs at `warn`: its request line, at `info`, is not written.
    const before = lines.length;
    expect((await app.inject({ method: 'GET', url: '/openapi.json' })).statusCode).toBe(200);
    expect(lines.slice(before)).toEqual([]);
  });

  it('answers GET for an unknown or removed job with 404', async () => {
    const app = await startApp();
    const missing = await app.inject({
      method: 'GET',
      url: '/v1/queues/emails/jobs/424242',
      headers: bearer(SECRETS.signup),
    });
    expect(missing.statusCode).toBe(404);
    expect(missing.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(missing.json()).toMatchObject({ status: 404, code: 'JOBFLEET_JOB_NOT_FOUND' });

    const posted = await enqueue(app, SECRETS.signup);
    const { id } = posted.json<{ id: string }>();
    await (await inspectQueue(redis, 'emails').getJob(id))?.remove();
    const removed = await app.inject({
      method: 'GET',
      url: `/v1/queues/emails/jobs/${id}`,
      headers: bearer(SECRETS.signup),
    });
    expect(removed.statusCode).toBe(404);

    const unknownQueue = await app.inject({
      method: 'GET',
      url: `/v1/queues/nope/jobs/${id}`,
      headers: bearer(SECRETS.admin),
    });
    expect(unknownQueue.statusCode).toBe(404);
    expect(unknownQueue.json()).toMatchObject({ code: 'JOBFLEET_UNKNOWN_QUEUE' });
  });

  it('shows result, attempts and timestamps of a finished job', async () => {
    const app = await startApp();
    const posted = await enqueue(app, SECRETS.signup);
    const { id } = posted.json<{ id: string }>();
    const worker = new Worker(
      'emails',
      async (job) => {
        await job.updateProgress(100);
        return { messageId: '<m1@example.com>', transport: 'outbox' };
      },
      { connection: redis.connection(), prefix: redis.prefix, autorun: false },
    );
    const done = new Promise((resolve) => worker.once('completed', resolve));
    void worker.run();
    await done;
    await worker.close();
    const status = await app.inject({
      method: 'GET',
      url: `/v1/queues/emails/jobs/${id}`,
      headers: bearer(SECRETS.signup),
    });
    const body = status.json<Record<string, string>>();
    expect(body).toMatchObject({
      state: 'completed',
      attemptsMade: 1,
      progress: 100,
      result: { messageId: '<m1@example.com>', transport: 'outbox' },
    });
    for (const field of ['createdAt', 'startedAt', 'finishedAt']) {
      expect(body[field]).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    }
  });

  it('uses an injected Redis connection and leaves it open on close; closes its own', async () => {
    const injected = createRedisConnection({ url: redis.url, flavour: 'producer' });
    await once(injected, 'ready');
    const gateway = await buildGateway({ config: testConfig(redis), redis: injected });
    expect(gateway.redis).toBe(injected);
    const response = await enqueue(gateway, SECRETS.signup);
    expect(response.statusCode).toBe(202);
    await gateway.close();
    expect(injected.status).toBe('ready');
    await injected.quit();

    const app = await startGateway(redis);
    const own = app.redis;
    const ended = own.status === 'end' ? Promise.resolve() : once(own, 'end');
    await app.close();
    await ended;
    expect(own.status).toBe('end');
  });
});
