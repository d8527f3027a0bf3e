import { hostname } from 'node:os';
import {
  logSink,
  nextEvent,
  promtoolCheckMetrics,
  type RedisServer,
  startRedisServer,
} from '@jobfleet/test-utils';
import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createLogger,
  createMetricsRegistry,
  createRedisConnection,
  observabilityPlugin,
  redisReadinessCheck,
  waitUntilConnected,
} from '../src/index.js';

function capture() {
  const { destination, lines } = logSink();
  return { lines, logger: createLogger({ service: 'test', level: 'info', destination }) };
}

describe('observability plugin', () => {
  let server: RedisServer;
  beforeAll(async () => {
    server = await startRedisServer();
  });
  afterAll(() => server.stop());

  async function build(metricsToken?: string) {
    const { lines, logger } = capture();
    const redis = createRedisConnection({ url: server.url, flavour: 'producer' });
    const registry = createMetricsRegistry();
    const app = Fastify();
    await app.register(observabilityPlugin, {
      registry,
      checks: [redisReadinessCheck(redis, logger, { prefix: 'obs-test', policyTtlMs: 0 })],
      metricsToken,
    });
    app.addHook('onClose', async () => void redis.disconnect());
    await waitUntilConnected(redis);
    return { app, lines, redis };
  }

  it('serves metrics that promtool accepts without a warning', async () => {
    const { app } = await build();
    const response = await app.inject('/metrics');
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toContain('text/plain');
    expect(response.body).toContain('process_cpu_seconds_total');
    expect(promtoolCheckMetrics(response.body)).toBe('');
    await app.close();
  });

  it('asks for the scrape token when one is set', async () => {
    const { app } = await build('s3cret');
    expect((await app.inject('/metrics')).statusCode).toBe(401);
    const ok = await app.inject({ url: '/metrics', headers: { authorization: 'Bearer s3cret' } });
    expect(ok.statusCode).toBe(200);
    await app.close();
  });

  it('is ready with a reachable noeviction Redis, and not ready (with a warning) under another policy', async () => {
    const { app, lines } = await build();
    expect((await app.inject('/health/live')).statusCode).toBe(200);
    expect((await app.inject('/health/ready')).json()).toMatchObject({ status: 'ok' });

    const admin = createRedisConnection({ url: server.url, flavour: 'producer' });
    await waitUntilConnected(admin);
    await admin.config('SET', 'maxmemory-policy', 'allkeys-lru');
    try {
      const response = await app.inject('/health/ready');
      expect(response.statusCode).toBe(503);
      expect(response.json().checks[0].reason).toMatch(/allkeys-lru, not noeviction/);
      expect(lines.some((l) => l.level === 40 && String(l.msg).includes('noeviction'))).toBe(true);
    } finally {
      await admin.config('SET', 'maxmemory-policy', 'noeviction');
      admin.disconnect();
    }
    await app.close();
  });

  it('is not ready while a full Redis refuses writes (OOM), and ready again once it takes them', async () => {
    const { app, redis } = await build();
    expect((await app.inject('/health/ready')).statusCode).toBe(200);
    // The probe key exists now, under the prefix; a lower maxmemory makes every write an OOM.
    expect(await redis.exists(`obs-test:jobfleet:ready-probe:${hostname()}-${process.pid}`)).toBe(1);
    await redis.config('SET', 'maxmemory', '1');
    try {
      const full = await app.inject('/health/ready');
      expect(full.statusCode).toBe(503);
      expect(full.json().checks[0].reason).toMatch(/refuses writes: OOM/);
      // Reads and PING still work: only a write shows it.
      expect(await redis.ping()).toBe('PONG');
    } finally {
      await redis.config('SET', 'maxmemory', '0');
    }
    expect((await app.inject('/health/ready')).statusCode).toBe(200);
    await app.close();
  });

  it('is not ready on a replica (READONLY), and ready again once it is a primary', async () => {
    const { app, redis } = await build();
    const primary = await startRedisServer();
    try {
      await redis.replicaof('127.0.0.1', primary.port);
      const replica = await app.inject('/health/ready');
      expect(replica.statusCode).toBe(503);
      expect(replica.json().checks[0].reason).toMatch(/refuses writes: (READONLY|LOADING|MASTERDOWN)/);
    } finally {
      await redis.replicaof('NO', 'ONE');
      await primary.stop();
    }
    expect((await app.inject('/health/ready')).statusCode).toBe(200);
    await app.close();
  });

  it('is not ready while Redis is down, and ready again once it is back', async () => {
    const { app, redis } = await build();
    await server.kill();
    const down = await app.inject('/health/ready');
    expect(down.statusCode).toBe(503);
    expect(down.json().checks[0].ok).toBe(false);
    // Listening before the restart, so the reconnection cannot be missed.
    const reconnected = nextEvent(redis, 'ready');
    await server.start();
    await reconnected;
    expect((await app.inject('/health/ready')).statusCode).toBe(200);
    await app.close();
  });
});
