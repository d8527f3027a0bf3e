import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { loadConfig, type RedisClient } from '@jobfleet/service-kit';
import { type RedisCluster, startRedisCluster } from '@jobfleet/test-utils';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildGateway } from '../src/app.js';
import { gatewayConfig } from '../src/config.js';
import { isRedisUnavailable } from '../src/redis-availability.js';
import { bearer, enqueue, KEY_LIST, SECRETS, welcome } from './helpers.js';

describe('isRedisUnavailable on Redis Cluster', () => {
  const ready = { status: 'ready' } as RedisClient;
  it.each([
    'MOVED 3999 127.0.0.1:6381',
    'ASK 3999 127.0.0.1:6381',
    'TRYAGAIN Multiple keys request during rehashing of slot',
    'CLUSTERDOWN The cluster is down',
    'Too many Cluster redirections. Last error: ReplyError: TRYAGAIN Multiple keys request during rehashing of slot',
    'Failed to refresh slots cache.',
    "Cluster isn't ready and enableOfflineQueue options is false",
  ])('counts "%s" as Redis being unavailable (503), not a bug (500)', (message) => {
    expect(isRedisUnavailable(new Error(message), ready)).toBe(true);
  });

  it('still counts other errors as bugs', () => {
    expect(
      isRedisUnavailable(new Error('CROSSSLOT Keys in request do not hash to the same slot'), ready),
    ).toBe(false);
  });
});

describe('the gateway on a real Redis Cluster', () => {
  let cluster: RedisCluster;
  let app: FastifyInstance;
  const prefix = `gw-${randomUUID().slice(0, 8)}`;
  const admin = bearer(SECRETS.admin);

  beforeAll(async () => {
    cluster = await startRedisCluster({ masters: 3 });
    const config = loadConfig(gatewayConfig, {
      REDIS_CLUSTER_NODES: cluster.seeds,
      JOBFLEET_PREFIX: prefix,
      LOG_LEVEL: 'silent',
      GATEWAY_API_KEYS: JSON.stringify(KEY_LIST),
      RATE_LIMIT_MAX: '1000000',
    });
    app = await buildGateway({ config });
    if (app.redis.status !== 'ready') await once(app.redis, 'ready');
  }, 60_000);

  afterAll(async () => {
    await app?.close();
    await cluster?.stop();
  });

  it('enqueues, batches, replays, cancels, schedules and reads every queue without CROSSSLOT', async () => {
    expect(app.redis.isCluster).toBe(true);
    const accepted = await enqueue(app, SECRETS.signup);
    expect(accepted.statusCode, accepted.body).toBe(202);
    const id = accepted.json<{ id: string }>().id;
    expect(await app.redis.exists(`{${prefix}:emails}:emails:${id}`)).toBe(1);

    const batch = await app.inject({
      method: 'POST',
      url: '/v1/queues/emails/jobs/batch',
      headers: admin,
      payload: { jobs: [welcome, welcome, { ...welcome, options: { jobId: 'custom-1' } }] },
    });
    expect(batch.statusCode, batch.body).toBe(202);

    const key = { ...admin, 'idempotency-key': randomUUID() };
    const first = await enqueue(app, SECRETS.admin, welcome, { headers: key });
    const again = await enqueue(app, SECRETS.admin, welcome, { headers: key });
    expect(first.statusCode).toBe(202);
    expect(again.json<{ id: string }>().id).toBe(first.json<{ id: string }>().id);

    const cancel = await app.inject({
      method: 'DELETE',
      url: `/v1/queues/emails/jobs/${id}`,
      headers: admin,
    });
    expect(cancel.statusCode, cancel.body).toBe(204);

    const schedule = await app.inject({
      method: 'PUT',
      url: '/v1/queues/reports/schedules/nightly',
      headers: admin,
      payload: { name: 'daily-report', data: { tenantId: 'acme' }, cron: '0 3 * * *' },
    });
    expect(schedule.statusCode, schedule.body).toBeLessThan(300);
    const schedules = await app.inject({
      method: 'GET',
      url: '/v1/queues/reports/schedules',
      headers: admin,
    });
    expect(schedules.body).toContain('nightly');

    for (const url of ['/v1/queues', '/v1/queues/emails', '/v1/dead-letters', '/metrics']) {
      const read = await app.inject({ method: 'GET', url, headers: admin });
      expect(read.statusCode, `${url}: ${read.body}`).toBe(200);
    }
  });

  it('follows a slot that moved to another master (MOVED) instead of answering 500', async () => {
    const slot = await cluster.keySlot(`{${prefix}:emails}`);
    const from = await cluster.ownerOf(slot);
    const to = cluster.nodes.find((node) => node.id !== from.id);
    if (!to) throw new Error('no other master');
    await cluster.moveSlot(slot, to);
    const accepted = await enqueue(app, SECRETS.signup);
    expect(accepted.statusCode, accepted.body).toBe(202);
    const read = await app.inject({ method: 'GET', url: '/v1/queues/emails', headers: admin });
    expect(read.statusCode, read.body).toBe(200);
  });

  it('answers 503 when the cluster is gone', async () => {
    await cluster.stop();
    const refused = await enqueue(app, SECRETS.signup);
    expect(refused.statusCode, refused.body).toBe(503);
    expect(refused.json()).toMatchObject({ code: 'JOBFLEET_REDIS_UNAVAILABLE' });
  });
});
