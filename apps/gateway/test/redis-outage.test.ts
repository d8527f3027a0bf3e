import { once } from 'node:events';
import { closeRedis, createRedisConnection } from '@jobfleet/service-kit';
import { freePort, type RedisServer, startRedisServer } from '@jobfleet/test-utils';
import type { FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildGateway } from '../src/app.js';
import { IdempotencyStore } from '../src/idempotency.js';
import { bearer, enqueue, eventually, SECRETS, startGateway, testConfig, welcome } from './helpers.js';

let server: RedisServer;
let app: FastifyInstance;

beforeAll(async () => {
  // This test's own Redis, since it kills it.
  server = await startRedisServer();
  const target = { url: server.url, prefix: 'outage' };
  app = await startGateway(target, { config: testConfig(target) });
});

afterAll(async () => {
  await app?.close();
  await server?.stop();
});

describe('Redis outage', () => {
  it('answers 503 with Retry-After quickly while Redis is down, and recovers without a rebuild', async () => {
    expect((await enqueue(app, SECRETS.signup)).statusCode).toBe(202);
    expect((await app.inject({ method: 'GET', url: '/health/ready' })).statusCode).toBe(200);

    await server.kill();
    const started = performance.now();
    const refused = await enqueue(app, SECRETS.signup);
    const elapsed = performance.now() - started;
    expect(refused.statusCode).toBe(503);
    expect(refused.headers['retry-after']).toBe('1');
    expect(refused.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(refused.json()).toMatchObject({ status: 503, code: 'JOBFLEET_REDIS_UNAVAILABLE' });
    expect(refused.body).not.toMatch(/ECONN|stack|Stream isn't writeable/);
    expect(elapsed).toBeLessThan(1_000);

    const status = await app.inject({
      method: 'GET',
      url: '/v1/queues/emails/jobs/1',
      headers: bearer(SECRETS.signup),
    });
    expect(status.statusCode).toBe(503);
    expect(status.headers['retry-after']).toBe('1');
    for (const url of ['/v1/dead-letters', '/v1/dead-letters/emails.1.1', '/v1/reports/1/file']) {
      const answer = await app.inject({ method: 'GET', url, headers: bearer(SECRETS.admin) });
      expect(answer.statusCode, url).toBe(503);
      expect(answer.json(), url).toMatchObject({ code: 'JOBFLEET_REDIS_UNAVAILABLE' });
    }

    const ready = await app.inject({ method: 'GET', url: '/health/ready' });
    expect(ready.statusCode).toBe(503);
    expect(ready.json()).toMatchObject({ status: 'unavailable', checks: [{ name: 'redis', ok: false }] });
    expect((await app.inject({ method: 'GET', url: '/health/live' })).statusCode).toBe(200);

    // Bad requests are still the client's fault while Redis is away, and auth still comes first.
    const anonymous = await app.inject({ method: 'POST', url: '/v1/queues/emails/jobs', payload: welcome });
    expect(anonymous.statusCode).toBe(401);

    await server.start();
    if (app.redis.status !== 'ready') await once(app.redis, 'ready');
    const again = await enqueue(app, SECRETS.signup);
    expect(again.statusCode, again.body).toBe(202);
    expect((await app.inject({ method: 'GET', url: '/health/ready' })).statusCode).toBe(200);
  });

  it('Redis stopped mid-traffic: 503s within a second, no request hangs; Redis back: 202s again, no restart', async () => {
    if (app.redis.status !== 'ready') await once(app.redis, 'ready');
    const results: { at: number; status: number; took: number }[] = [];
    let running = true;
    // Four clients back to back: two posting single jobs, one batches, one reading a status.
    const client = async (n: number) => {
      while (running) {
        const started = performance.now();
        const response = await app.inject(
          n === 1
            ? {
                method: 'POST',
                url: '/v1/queues/emails/jobs/batch',
                headers: bearer(SECRETS.signup),
                payload: { jobs: [welcome, welcome] },
              }
            : n === 2
              ? { method: 'GET', url: '/v1/queues/emails/jobs/1', headers: bearer(SECRETS.admin) }
              : {
                  method: 'POST',
                  url: '/v1/queues/emails/jobs',
                  headers: bearer(SECRETS.signup),
                  payload: welcome,
                },
        );
        const at = performance.now();
        results.push({ at, status: response.statusCode, took: at - started });
        if (response.statusCode >= 500) {
          // A write cut off by the crash may or may not have been done: that is a 504, never a 503.
          const code =
            response.statusCode === 504 ? 'JOBFLEET_OUTCOME_UNKNOWN' : 'JOBFLEET_REDIS_UNAVAILABLE';
          expect(response.json()).toMatchObject({ status: response.statusCode, code });
          expect(response.headers['retry-after']).toBe(response.statusCode === 504 ? '2' : '1');
        }
        // Let timers and sockets run between requests, as real traffic would.
        await new Promise((resolve) => setImmediate(resolve));
      }
    };
    const clients = [0, 1, 2, 3].map(client);
    const seen = (predicate: (r: { at: number; status: number }) => boolean, after: number) =>
      eventually(async () => results.find((r) => r.at > after && predicate(r)), 10_000);

    await seen((r) => r.status === 202, 0);
    const killedAt = performance.now();
    await server.kill();
    const firstRefusal = await seen((r) => r.status === 503, killedAt);
    expect(firstRefusal.at - killedAt).toBeLessThan(1_000);
    // Once refusing, every answer is a prompt 503 (none waits for Redis).
    const settled = firstRefusal.at + 200;
    await seen(() => true, settled + 300);
    // Started while Redis is away: none was sent, so each is a 503, never a 504.
    const during = results.filter((r) => r.at - r.took > settled && r.at < settled + 300);
    expect(during.length).toBeGreaterThan(0);
    expect(during.every((r) => r.status === 503)).toBe(true);
    expect((await app.inject({ method: 'GET', url: '/health/ready' })).statusCode).toBe(503);
    // Scrapes still answer, without the queue gauges they cannot read.
    const scrape = await app.inject({ method: 'GET', url: '/metrics' });
    expect(scrape.statusCode).toBe(200);

    const restartedAt = performance.now();
    await server.start();
    await seen((r) => r.status === 202 || r.status === 200, restartedAt);
    running = false;
    await Promise.all(clients);
    expect(Math.max(...results.map((r) => r.took))).toBeLessThan(1_000);
    expect((await app.inject({ method: 'GET', url: '/health/ready' })).statusCode).toBe(200);
  });

  it('starts while Redis is unreachable, answers 503 at once, and closes promptly', async () => {
    const nowhere = { url: `redis://127.0.0.1:${await freePort()}`, prefix: 'nowhere' };
    const gateway = await buildGateway({ config: testConfig(nowhere) });
    try {
      const started = performance.now();
      const refused = await gateway.inject({
        method: 'POST',
        url: '/v1/queues/emails/jobs',
        headers: bearer(SECRETS.signup),
        payload: welcome,
      });
      expect(refused.statusCode).toBe(503);
      expect(refused.headers['retry-after']).toBe('1');
      expect(performance.now() - started).toBeLessThan(1_000);
      expect((await gateway.inject({ method: 'GET', url: '/health/ready' })).statusCode).toBe(503);
    } finally {
      const closing = performance.now();
      await gateway.close();
      expect(performance.now() - closing).toBeLessThan(2_000);
    }
  });
});

describe('Idempotency-Key claims across a Redis crash', () => {
  it('a release or mark cut off by the crash is sent once Redis is back: the key is not stuck "in progress"', async () => {
    // Durable, so the claims made before the crash are still there after it.
    const durable = await startRedisServer({ appendOnly: true, args: ['--appendfsync', 'always'] });
    const redis = createRedisConnection({ url: durable.url, flavour: 'producer', commandTimeoutMs: 750 });
    const plain = new Redis(durable.url);
    const store = new IdempotencyStore({ redis, prefix: 'settle', ttlMs: 60_000 });
    try {
      if (redis.status !== 'ready') await once(redis, 'ready');
      const released = await store.claim('client', 'released', 'fingerprint');
      const abandoned = await store.claim('client', 'abandoned', 'fingerprint');
      if (released.kind !== 'claimed' || abandoned.kind !== 'claimed') throw new Error('not claimed');

      await durable.kill();
      await eventually(async () => (redis.status === 'ready' ? undefined : true));
      // Neither reaches Redis now; both must once it is back, well before the claims' 30 s expire.
      await Promise.all([released.release(), abandoned.abandon()]);
      await durable.start();
      if (redis.status !== 'ready') await once(redis, 'ready');

      const releasedKey = store.keyOf('client', 'released');
      const abandonedKey = store.keyOf('client', 'abandoned');
      await eventually(async () => ((await plain.exists(releasedKey)) === 0 ? true : undefined), 3_000);
      await eventually(
        async () => ((await plain.get(abandonedKey))?.includes('"state":"unknown"') ? true : undefined),
        3_000,
      );
      // And the retries claim their keys at once instead of waiting and answering 409.
      const started = performance.now();
      expect((await store.claim('client', 'released', 'fingerprint')).kind).toBe('claimed');
      expect((await store.claim('client', 'abandoned', 'fingerprint')).kind).toBe('claimed');
      expect(performance.now() - started).toBeLessThan(1_000);
    } finally {
      plain.disconnect();
      await closeRedis(redis);
      await durable.stop();
    }
  });
});
