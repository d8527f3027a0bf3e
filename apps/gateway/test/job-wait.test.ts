import { CANCELLED_REASON } from '@jobfleet/queue-contracts';
import { createRedisConnection } from '@jobfleet/service-kit';
import { type RedisServer, startRedisServer, useTestRedis } from '@jobfleet/test-utils';
import { type Job, UnrecoverableError, Worker } from 'bullmq';
import type { FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { bearer, enqueue, eventually, SECRETS, startGateway, testConfig, welcome } from './helpers.js';

const redis = useTestRedis();
let app: FastifyInstance | undefined;
const cleanups: (() => Promise<unknown>)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  await app?.close();
  app = undefined;
});

async function gateway() {
  app = await startGateway(redis);
  return app;
}

const post = async (payload: object = welcome) => {
  if (!app) throw new Error('no gateway');
  const response = await enqueue(app, SECRETS.ops, payload);
  expect(response.statusCode).toBe(202);
  return response.json<{ id: string }>().id;
};

const status = (id: string, query = '', secret = SECRETS.ops) =>
  // biome-ignore lint/style/noNonNullAssertion: started by each test
  app!.inject({ method: 'GET', url: `/v1/queues/emails/jobs/${id}${query}`, headers: bearer(secret) });

type Step =
  | { kind: 'complete'; value: unknown }
  | { kind: 'fail'; error: Error }
  | { kind: 'progress'; value: number };

/**
 * A BullMQ worker on `emails` whose every attempt waits for the test: each
 * started attempt is announced, and the test says how it goes on.
 */
function steppedWorker() {
  const started: Job[] = [];
  const steps = new Map<string, ((step: Step) => void)[]>();
  let onStart: () => void = () => {};
  const worker = new Worker(
    'emails',
    async (job) => {
      for (;;) {
        const step = await new Promise<Step>((resolve) => {
          const queue = steps.get(String(job.id)) ?? [];
          queue.push(resolve);
          steps.set(String(job.id), queue);
          started.push(job);
          onStart();
        });
        if (step.kind === 'complete') return step.value;
        if (step.kind === 'fail') throw step.error;
        await job.updateProgress(step.value);
      }
    },
    {
      connection: createRedisConnection({ url: redis.url, flavour: 'worker' }),
      prefix: redis.prefix,
    },
  );
  cleanups.push(() => worker.close());
  return {
    /** Resolves once `count` steps have been asked for in all. */
    async asked(count: number) {
      while (started.length < count) {
        await new Promise<void>((resolve) => {
          onStart = resolve;
        });
      }
    },
    step(id: string, step: Step) {
      const queue = steps.get(id);
      const resolve = queue?.shift();
      if (!resolve) throw new Error(`job ${id} is not waiting for a step`);
      resolve(step);
    },
  };
}

describe('GET /v1/queues/:queue/jobs/:id?waitMs', () => {
  it('answers as soon as the job completes, with its result', async () => {
    await gateway();
    const worker = steppedWorker();
    const id = await post();
    await worker.asked(1);
    let answered = false;
    const waiting = status(id, '?waitMs=30000').then((response) => {
      answered = true;
      return response;
    });
    await eventually(async () => (app?.jobEvents.listenerCount === 1 ? true : undefined));
    expect(answered).toBe(false);
    worker.step(id, { kind: 'complete', value: { messageId: 'm-1' } });
    const response = await waiting;
    expect(response.statusCode).toBe(200);
    expect(response.json()).toMatchObject({ id, state: 'completed', result: { messageId: 'm-1' } });
    expect(app?.jobEvents.listenerCount).toBe(0);
  });

  it('answers a finished job at once, and an unfinished one at the timeout with its state then', async () => {
    await gateway();
    const id = await post();
    const response = await status(id, '?waitMs=50');
    expect(response.statusCode).toBe(200);
    expect(response.json()).toMatchObject({ id, state: 'waiting' });
    expect(app?.jobEvents.listenerCount).toBe(0);
  });

  it('keeps waiting through a retry and answers when the job failed for good', async () => {
    await gateway();
    const worker = steppedWorker();
    const id = await post({ ...welcome, options: { attempts: 2, backoff: { type: 'fixed', delay: 0 } } });
    await worker.asked(1);
    const waiting = status(id, '?waitMs=30000');
    await eventually(async () => (app?.jobEvents.listenerCount === 1 ? true : undefined));
    worker.step(id, { kind: 'fail', error: new Error('smtp down') });
    // The retry runs: the wait goes on.
    await worker.asked(2);
    expect(app?.jobEvents.listenerCount).toBe(1);
    worker.step(id, { kind: 'fail', error: new Error('smtp still down') });
    const response = await waiting;
    expect(response.json()).toMatchObject({
      id,
      state: 'failed',
      attemptsMade: 2,
      failedReason: 'smtp still down',
    });
  });

  it('answers a cancelled job as cancelled', async () => {
    await gateway();
    const worker = steppedWorker();
    const id = await post();
    await worker.asked(1);
    const waiting = status(id, '?waitMs=30000');
    await eventually(async () => (app?.jobEvents.listenerCount === 1 ? true : undefined));
    // How the worker runtime ends a job whose cancel request it received.
    worker.step(id, { kind: 'fail', error: new UnrecoverableError(CANCELLED_REASON) });
    expect((await waiting).json()).toMatchObject({ id, state: 'cancelled' });
  });

  it('keeps the status route rules: scopes, tenants, and a bounded waitMs', async () => {
    await gateway();
    const id = await post();
    // A key of tenant globex does not see a job of another tenant, waiting or not.
    expect((await status(id, '?waitMs=30000', SECRETS.globexReader)).statusCode).toBe(404);
    // reports-only has no emails:read.
    expect((await status(id, '?waitMs=30000', SECRETS.reportsOnly)).statusCode).toBe(403);
    expect((await status('no-such-job', '?waitMs=30000')).statusCode).toBe(404);
    for (const bad of ['30001', '-1', 'soon', '1.5']) {
      const response = await status(id, `?waitMs=${bad}`);
      expect(response.statusCode, bad).toBe(400);
      expect(response.json()).toMatchObject({ errors: [{ path: '/waitMs' }] });
    }
    expect(app?.jobEvents.listenerCount).toBe(0);
  });

  it('releases the wait when the client goes away', async () => {
    const started = await gateway();
    const address = await started.listen({ port: 0, host: '127.0.0.1' });
    const id = await post();
    const controller = new AbortController();
    const request = fetch(`${address}/v1/queues/emails/jobs/${id}?waitMs=30000`, {
      headers: bearer(SECRETS.ops),
      signal: controller.signal,
    }).catch((error: unknown) => error);
    await eventually(async () => (app?.jobEvents.listenerCount === 1 ? true : undefined));
    controller.abort();
    await request;
    await eventually(async () => (app?.jobEvents.listenerCount === 0 ? true : undefined));
  });

  it('answers waiting requests with the current state when the app closes', async () => {
    await gateway();
    const id = await post();
    const waiting = status(id, '?waitMs=30000');
    await eventually(async () => (app?.jobEvents.listenerCount === 1 ? true : undefined));
    const closing = app?.close();
    expect((await waiting).json()).toMatchObject({ id, state: 'waiting' });
    await closing;
    app = undefined;
  });
});

/** Reads an SSE response into `{ event, data }` frames until the server closes it. */
async function readEvents(response: Response): Promise<{ event: string; data: unknown }[]> {
  const text = await response.text();
  return text
    .split('\n\n')
    .filter((block) => block.startsWith('event: '))
    .map((block) => {
      const [eventLine = '', dataLine = ''] = block.split('\n');
      return { event: eventLine.slice('event: '.length), data: JSON.parse(dataLine.slice('data: '.length)) };
    });
}

describe('GET /v1/queues/:queue/jobs/:id/events', () => {
  it('streams the state, progress and final state of a job, then closes', async () => {
    const started = await gateway();
    const address = await started.listen({ port: 0, host: '127.0.0.1' });
    const worker = steppedWorker();
    const id = await post();
    await worker.asked(1);
    const response = await fetch(`${address}/v1/queues/emails/jobs/${id}/events`, {
      headers: bearer(SECRETS.ops),
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const frames = readEvents(response);
    await eventually(async () => (app?.jobEvents.listenerCount === 1 ? true : undefined));
    worker.step(id, { kind: 'progress', value: 40 });
    await worker.asked(2);
    worker.step(id, { kind: 'complete', value: { messageId: 'm-2' } });
    const events = await frames;
    expect(events.map((frame) => frame.event)).toEqual(['state', 'progress', 'completed']);
    expect(events[0]?.data).toMatchObject({ id, state: 'active' });
    expect(events[1]?.data).toEqual({ progress: 40 });
    expect(events[2]?.data).toMatchObject({ id, state: 'completed', result: { messageId: 'm-2' } });
    await eventually(async () => (app?.jobEvents.listenerCount === 0 ? true : undefined));
  });

  it('sends the final state at once for a finished job, and 404s, 403s like the status route', async () => {
    const started = await gateway();
    const address = await started.listen({ port: 0, host: '127.0.0.1' });
    const worker = steppedWorker();
    const id = await post();
    await worker.asked(1);
    worker.step(id, { kind: 'fail', error: new UnrecoverableError('bad address') });
    await eventually(async () => ((await status(id)).json().state === 'failed' ? true : undefined));
    const url = `${address}/v1/queues/emails/jobs/${id}/events`;
    const events = await readEvents(await fetch(url, { headers: bearer(SECRETS.ops) }));
    expect(events).toEqual([{ event: 'failed', data: expect.objectContaining({ id, state: 'failed' }) }]);
    const other = await fetch(url, { headers: bearer(SECRETS.globexReader) });
    expect(other.status).toBe(404);
    expect(other.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect((await fetch(url, { headers: bearer(SECRETS.reportsOnly) })).status).toBe(403);
    expect((await fetch(url)).status).toBe(401);
  });

  it('releases the subscription when the client disconnects', async () => {
    const started = await gateway();
    const address = await started.listen({ port: 0, host: '127.0.0.1' });
    const id = await post();
    const controller = new AbortController();
    const response = await fetch(`${address}/v1/queues/emails/jobs/${id}/events`, {
      headers: bearer(SECRETS.ops),
      signal: controller.signal,
    });
    expect(response.status).toBe(200);
    expect(app?.jobEvents.listenerCount).toBe(1);
    controller.abort();
    await eventually(async () => (app?.jobEvents.listenerCount === 0 ? true : undefined));
  });
});

describe('waiters share the queue events', () => {
  let server: RedisServer;
  beforeAll(async () => {
    server = await startRedisServer();
  });
  afterAll(async () => {
    await server.stop();
  });

  it('1,000 concurrent waiters use one events connection, not one each', async () => {
    const admin = new Redis(server.url);
    cleanups.push(() => admin.quit());
    const clients = async () =>
      String(await admin.client('LIST'))
        .trim()
        .split('\n').length;
    const target = { url: server.url, prefix: redis.prefix };
    app = await startGateway(target, { config: testConfig(target) });
    const id = await post();
    const before = await clients();
    const waiters = Array.from({ length: 1_000 }, () => status(id, '?waitMs=30000'));
    await eventually(async () => (app?.jobEvents.listenerCount === 1_000 ? true : undefined), 15_000);
    const during = await clients();
    // The emails queue's one QueueEvents connection; nothing per waiter.
    expect(during - before).toBeLessThanOrEqual(1);
    const worker = new Worker('emails', async () => ({ messageId: 'm-3' }), {
      connection: createRedisConnection({ url: server.url, flavour: 'worker' }),
      prefix: redis.prefix,
    });
    cleanups.push(() => worker.close());
    const answers = await Promise.all(waiters);
    expect(new Set(answers.map((response) => response.json().state))).toEqual(new Set(['completed']));
    expect(app?.jobEvents.listenerCount).toBe(0);
  });
});
