import { ConfigError } from '@jobfleet/service-kit';
import { type RedisServer, startRedisServer } from '@jobfleet/test-utils';
import type { FastifyInstance } from 'fastify';
import { Cluster, Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildGateway } from '../src/app.js';
import { ReplicationBarrier } from '../src/replication.js';
import { bearer, enqueue, SECRETS, startGateway, testConfig, welcome } from './helpers.js';

/** A `WAIT` stand-in whose rounds the test answers by hand. */
function manualWait() {
  const calls: { replicas: number; timeoutMs: number; answer: (acked: number) => void; fail: () => void }[] =
    [];
  const wait = (replicas: number, timeoutMs: number) =>
    new Promise<number>((resolve, reject) => {
      calls.push({ replicas, timeoutMs, answer: resolve, fail: () => reject(new Error('connection lost')) });
    });
  return { calls, wait };
}

/** Lets pending promise callbacks run. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('ReplicationBarrier', () => {
  it('sends one WAIT for every request that asks while none is in flight', async () => {
    const { calls, wait } = manualWait();
    const barrier = new ReplicationBarrier(wait, 1, 500);
    const asked = Array.from({ length: 20 }, () => barrier.confirm(barrier.epoch));
    await settle();
    expect(calls).toHaveLength(1);
    expect(calls[0]).toMatchObject({ replicas: 1, timeoutMs: 500 });
    calls[0]?.answer(1);
    expect(await Promise.all(asked)).toEqual(Array(20).fill(true));
  });

  it('serves requests that ask during a WAIT with one next WAIT, sent after it', async () => {
    const { calls, wait } = manualWait();
    const barrier = new ReplicationBarrier(wait, 2, 100);
    const early = barrier.confirm(barrier.epoch);
    await settle();
    // Their writes may have gone out after the first WAIT: it cannot vouch for them.
    const late = Array.from({ length: 10 }, () => barrier.confirm(barrier.epoch));
    await settle();
    expect(calls).toHaveLength(1);
    calls[0]?.answer(2);
    expect(await early).toBe(true);
    await settle();
    expect(calls).toHaveLength(2);
    calls[1]?.answer(1);
    expect(await Promise.all(late)).toEqual(Array(10).fill(false));
    // And the round after that starts afresh.
    const again = barrier.confirm(barrier.epoch);
    await settle();
    expect(calls).toHaveLength(3);
    calls[2]?.answer(3);
    expect(await again).toBe(true);
  });

  it('does not confirm when the WAIT fails or the connection changed since the write', async () => {
    const { calls, wait } = manualWait();
    const barrier = new ReplicationBarrier(wait, 1, 100);
    const failing = barrier.confirm(barrier.epoch);
    await settle();
    calls[0]?.fail();
    expect(await failing).toBe(false);

    const before = barrier.epoch;
    barrier.reconnected();
    const stale = barrier.confirm(before);
    await settle();
    calls[1]?.answer(1);
    expect(await stale).toBe(false);
  });
});

describe('REDIS_MIN_REPLICAS_ACK', () => {
  let master: RedisServer;
  let replica: RedisServer;
  let app: FastifyInstance;
  let loose: FastifyInstance;
  let replicaClient: Redis;
  const target = () => ({ url: master.url, prefix: 'replicated' });

  const replicaOnline = async () => {
    const probe = new Redis(master.url);
    try {
      // The replica counts once it acknowledged a write of this connection.
      for (;;) {
        await probe.set('replicated:probe', '1');
        if (Number(await probe.call('WAIT', '1', '200')) >= 1) return;
      }
    } finally {
      probe.disconnect();
    }
  };

  beforeAll(async () => {
    master = await startRedisServer();
    replica = await startRedisServer({ args: ['--replicaof', '127.0.0.1', String(master.port)] });
    await replicaOnline();
    replicaClient = new Redis(replica.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
    replicaClient.on('error', () => {});
    app = await startGateway(target(), {
      config: testConfig(target(), { REDIS_MIN_REPLICAS_ACK: '1', REDIS_MIN_REPLICAS_ACK_TIMEOUT_MS: '300' }),
    });
    loose = await startGateway(target(), { config: testConfig(target()) });
  }, 30_000);

  afterAll(async () => {
    replicaClient?.disconnect();
    await app?.close();
    await loose?.close();
    await replica?.stop();
    await master?.stop();
  });

  it('answers 202 once the replica has the job', async () => {
    const answers = await Promise.all(Array.from({ length: 20 }, () => enqueue(app, SECRETS.signup)));
    for (const answer of answers) {
      expect(answer.statusCode).toBe(202);
      // Read from the replica itself: it has the job the moment the client hears 202.
      expect(await replicaClient.exists(`replicated:emails:${answer.json().id}`)).toBe(1);
    }
    const batch = await app.inject({
      method: 'POST',
      url: '/v1/queues/emails/jobs/batch',
      headers: bearer(SECRETS.signup),
      payload: { jobs: [welcome, welcome] },
    });
    expect(batch.statusCode).toBe(202);
  });

  it('answers 503 JOBFLEET_REPLICATION_UNCONFIRMED within the timeout without a replica; a retry with the same Idempotency-Key converges', async () => {
    await replica.shutdown();
    const headers = { 'idempotency-key': 'replicated-order-1' };
    const started = performance.now();
    const refused = await enqueue(app, SECRETS.signup, welcome, { headers });
    const elapsed = performance.now() - started;
    expect(refused.statusCode).toBe(503);
    expect(refused.headers['retry-after']).toBe('1');
    expect(refused.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(refused.json()).toMatchObject({ status: 503, code: 'JOBFLEET_REPLICATION_UNCONFIRMED' });
    expect(refused.json().detail).toMatch(/may have been written.*same Idempotency-Key/);
    // The 300 ms WAIT, not the 5 s command timeout.
    expect(elapsed).toBeLessThan(2_000);

    const batch = await app.inject({
      method: 'POST',
      url: '/v1/queues/emails/jobs/batch',
      headers: bearer(SECRETS.signup),
      payload: { jobs: [welcome] },
    });
    expect(batch.statusCode).toBe(503);
    expect(batch.json()).toMatchObject({ code: 'JOBFLEET_REPLICATION_UNCONFIRMED' });

    // Without the setting, the same Redis takes jobs as before.
    expect((await enqueue(loose, SECRETS.signup)).statusCode).toBe(202);

    await replica.start();
    await replicaOnline();
    const retried = await enqueue(app, SECRETS.signup, welcome, { headers });
    expect(retried.statusCode).toBe(200);
    expect(retried.json()).toMatchObject({ duplicate: true });
    expect(await replicaClient.exists(`replicated:emails:${retried.json().id}`)).toBe(1);
  });

  it('is refused at start on Redis Cluster', async () => {
    const cluster = new Cluster([{ host: '127.0.0.1', port: master.port }], { lazyConnect: true });
    try {
      const building = buildGateway({
        config: testConfig(target(), { REDIS_MIN_REPLICAS_ACK: '1' }),
        redis: cluster,
      });
      await expect(building).rejects.toBeInstanceOf(ConfigError);
      await expect(building).rejects.toThrow(/REDIS_MIN_REPLICAS_ACK.*REDIS_CLUSTER_NODES/);
    } finally {
      cluster.disconnect();
    }
  });
});
