import { once } from 'node:events';
import { catalog } from '@jobfleet/queue-contracts';
import { useTestRedis } from '@jobfleet/test-utils';
import { Worker } from 'bullmq';
import type { FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { bearer, inspectQueue, SECRETS, startGateway, welcome } from './helpers.js';

const redis = useTestRedis();
let app: FastifyInstance;

beforeEach(async () => {
  app = await startGateway(redis);
});
afterEach(async () => {
  await app.close();
});

const get = (url: string, secret = SECRETS.ops) =>
  app.inject({ method: 'GET', url, headers: bearer(secret) });
const control = (queue: string, action: 'pause' | 'resume', secret = SECRETS.ops) =>
  app.inject({ method: 'POST', url: `/v1/queues/${queue}/${action}`, headers: bearer(secret) });

describe('queues', () => {
  it('GET /v1/queues/:queue: counts per state, paused, workers, age of the oldest waiting job', async () => {
    const queue = inspectQueue(redis, 'emails');
    // Added 90 s ago as far as the job's timestamp goes.
    await queue.add('welcome', welcome.data, { timestamp: Date.now() - 90_000 });
    await queue.add('welcome', welcome.data);
    await queue.add('welcome', welcome.data, { delay: 60_000 });
    await queue.add('welcome', welcome.data, { priority: 4 });

    const response = await get('/v1/queues/emails');
    expect(response.statusCode).toBe(200);
    const summary = response.json<{ oldestWaitingAgeSeconds: number }>();
    expect(summary).toEqual({
      name: 'emails',
      description: expect.any(String),
      jobNames: ['welcome', 'password-reset', 'notification'],
      paused: false,
      workers: 0,
      counts: {
        waiting: 2,
        prioritized: 1,
        delayed: 1,
        active: 0,
        completed: 0,
        failed: 0,
        'waiting-children': 0,
      },
      oldestWaitingAgeSeconds: expect.any(Number),
    });
    expect(summary.oldestWaitingAgeSeconds).toBeGreaterThanOrEqual(90);
    expect(summary.oldestWaitingAgeSeconds).toBeLessThan(120);

    const worker = new Worker('emails', async () => null, {
      connection: redis.connection(),
      prefix: redis.prefix,
      autorun: false,
    });
    await worker.waitUntilReady();
    try {
      expect((await get('/v1/queues/emails')).json()).toMatchObject({ workers: 1 });
    } finally {
      await worker.close();
    }
    const empty = await get('/v1/queues/reports');
    expect(empty.json()).toMatchObject({ oldestWaitingAgeSeconds: null, counts: { waiting: 0 } });
  });

  it('GET /v1/queues lists the queues the key may read', async () => {
    const all = await get('/v1/queues');
    expect(all.json<{ queues: { name: string }[] }>().queues.map((q) => q.name)).toEqual(
      Object.keys(catalog),
    );
    const some = await get('/v1/queues', SECRETS.reportsOnly);
    expect(some.json<{ queues: { name: string }[] }>().queues.map((q) => q.name)).toEqual(['reports']);
    expect((await app.inject({ method: 'GET', url: '/v1/queues' })).statusCode).toBe(401);
    expect((await get('/v1/queues/emails', SECRETS.reportsOnly)).statusCode).toBe(403);
    expect((await get('/v1/queues/nope')).statusCode).toBe(404);
  });

  it('pause stops workers from starting jobs, resume lets them; both idempotent', async () => {
    const paused = await control('emails', 'pause');
    expect(paused.statusCode).toBe(200);
    expect(paused.json()).toEqual({ queue: 'emails', paused: true });
    expect((await control('emails', 'pause')).statusCode).toBe(200);
    expect((await get('/v1/queues/emails')).json()).toMatchObject({ paused: true });
    expect(await inspectQueue(redis, 'emails').isPaused()).toBe(true);

    // Enqueueing still works while paused; the job waits.
    const posted = await app.inject({
      method: 'POST',
      url: '/v1/queues/emails/jobs',
      headers: bearer(SECRETS.signup),
      payload: welcome,
    });
    expect(posted.statusCode).toBe(202);

    const worker = new Worker('emails', async () => null, {
      connection: redis.connection(),
      prefix: redis.prefix,
    });
    try {
      const completed = once(worker, 'completed');
      await worker.waitUntilReady();
      expect(await inspectQueue(redis, 'emails').getJobState(posted.json<{ id: string }>().id)).toBe(
        'waiting',
      );
      const resumed = await control('emails', 'resume');
      expect(resumed.json()).toEqual({ queue: 'emails', paused: false });
      await completed;
    } finally {
      await worker.close();
    }
    expect((await get('/v1/queues/emails')).json()).toMatchObject({
      paused: false,
      counts: { completed: 1 },
    });
  });

  it('pause and resume need <queue>:manage and a key without tenant', async () => {
    expect((await control('emails', 'pause', SECRETS.signup)).statusCode).toBe(403);
    const tenantKey = await control('emails', 'pause', SECRETS.acmeOps);
    expect(tenantKey.statusCode).toBe(403);
    expect(tenantKey.json()).toMatchObject({ code: 'JOBFLEET_TENANT_BOUND_KEY' });
    expect((await control('nope', 'pause')).statusCode).toBe(404);
    expect(await inspectQueue(redis, 'emails').isPaused()).toBe(false);
  });
});
