import { randomUUID } from 'node:crypto';
import { emails } from '@jobfleet/queue-contracts';
import { nextEvent, type RedisServer, startRedisServer } from '@jobfleet/test-utils';
import { Queue } from 'bullmq';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { buildDashboard } from '../src/app.js';
import { BOARD_PATH } from '../src/paths.js';
import { asUser, captureLogger, login, PASSWORDS, postLogin, startDashboard, testConfig } from './helpers.js';

/** This file's own Redis, so it can be killed and started again. */
let server: RedisServer;

beforeAll(async () => {
  server = await startRedisServer();
});

afterAll(async () => {
  await server?.stop();
});

/**
 * Answers within this long, or the test fails: a request must not hang while Redis is away (a
 * producer connection's command timeout is 5 s). Right after start a request may wait 1 s
 * (`STARTUP_GRACE_MS`) for the first connection.
 */
const FAST_MS = 2_500;

async function timed<T>(work: Promise<T>): Promise<T> {
  const started = performance.now();
  const result = await work;
  expect(performance.now() - started).toBeLessThan(FAST_MS);
  return result;
}

it('keeps answering while Redis is down (503, fast, with the last figures) and recovers by itself', async () => {
  const target = { url: server.url, prefix: `restart-${randomUUID().slice(0, 8)}` };
  const dashboard = await startDashboard(target);
  const queue = new Queue(emails.name, { connection: { url: server.url }, prefix: target.prefix });
  // The test's own producer loses Redis too: its connection errors are expected here, not failures.
  queue.on('error', () => {});
  try {
    const { app } = dashboard;
    await queue.add('welcome', { userId: 1, to: 'a@example.com' });
    const admin = await login(app, 'ops');
    const overview = () => app.inject({ url: '/', headers: { cookie: admin } });
    const api = () => app.inject({ url: `${BOARD_PATH}/api/queues`, headers: { cookie: admin } });

    const before = await overview();
    expect(before.statusCode).toBe(200);
    expect(before.body).not.toContain('data-unavailable');

    const closed = nextEvent(dashboard.redis, 'close');
    await server.kill();
    await closed;

    const down = await timed(overview());
    expect(down.statusCode).toBe(503);
    expect(down.headers['content-type']).toMatch(/^text\/html/);
    expect(down.body).toContain('Redis is unreachable');
    // The last figures stay on the page, marked stale.
    expect(down.body).toContain('<table class="queues stale">');
    expect(down.body).toMatch(/data-count="waiting">1</);

    const apiDown = await timed(api());
    expect(apiDown.statusCode).toBe(503);
    expect(apiDown.json()).toMatchObject({ error: { key: 'ERRORS.REDIS_UNAVAILABLE' }, status: 503 });
    const pauseDown = await timed(
      app.inject({ method: 'PUT', url: `${BOARD_PATH}/api/queues/emails/pause`, headers: asUser(admin) }),
    );
    expect(pauseDown.statusCode).toBe(503);
    expect((await timed(app.inject({ url: '/health/ready' }))).statusCode).toBe(503);
    expect((await app.inject({ url: '/health/live' })).statusCode).toBe(200);
    // Logging in and bull-board's page need no Redis.
    expect((await timed(postLogin(app, 'watcher', PASSWORDS.watcher))).statusCode).toBe(303);
    expect((await app.inject({ url: BOARD_PATH, headers: { cookie: admin } })).statusCode).toBe(200);

    const ready = nextEvent(dashboard.redis, 'ready');
    await server.start();
    await ready;
    // The test's own producer reconnects on its own schedule; a connection attempt it made while
    // Redis was down must not end up failing its close below.
    await queue.waitUntilReady();

    const after = await overview();
    expect(after.statusCode).toBe(200);
    expect(after.body).not.toContain('data-unavailable');
    expect((await api()).statusCode).toBe(200);
    expect((await app.inject({ url: '/health/ready' })).statusCode).toBe(200);
    const pause = await app.inject({
      method: 'PUT',
      url: `${BOARD_PATH}/api/queues/emails/pause`,
      headers: asUser(admin),
    });
    expect(pause.statusCode).toBe(200);
    expect(await queue.isPaused()).toBe(true);
  } finally {
    await queue.close();
    await dashboard.close();
  }
});

it('starts while Redis is down, says so, and works once Redis is up', async () => {
  const target = { url: server.url, prefix: `late-${randomUUID().slice(0, 8)}` };
  await server.shutdown();
  const { logger } = captureLogger();
  // What main.ts does: the dashboard opens its own producer connection from REDIS_URL.
  const app = await buildDashboard({ config: await testConfig(target), logger });
  try {
    const admin = await login(app, 'ops');
    const down = await timed(app.inject({ url: '/', headers: { cookie: admin } }));
    expect(down.statusCode).toBe(503);
    expect(down.body).toContain('No figures yet.');
    const ready = nextEvent(app.redis, 'ready');
    await server.start();
    await ready;
    const up = await app.inject({ url: '/', headers: { cookie: admin } });
    expect(up.statusCode).toBe(200);
    expect(up.body).toContain('<tr data-queue="emails">');
    const api = await app.inject({ url: `${BOARD_PATH}/api/queues`, headers: { cookie: admin } });
    expect(api.statusCode).toBe(200);
  } finally {
    await app.close();
  }
});
