import { useTestRedis } from '@jobfleet/test-utils';
import type { FastifyInstance, InjectOptions } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { canonicalJson, IdempotencyStore } from '../src/idempotency.js';
import {
  bearer,
  everythingQueued,
  inspectQueue,
  jobCount,
  SECRETS,
  startGateway,
  testConfig,
  welcome,
} from './helpers.js';

const redis = useTestRedis();
let app: FastifyInstance;

beforeEach(async () => {
  app = await startGateway(redis);
});
afterEach(async () => {
  await app.close();
});

const post = (
  key: string | undefined,
  payload: object,
  secret = SECRETS.signup,
  url = '/v1/queues/emails/jobs',
) =>
  app.inject({
    method: 'POST',
    url,
    headers: { ...bearer(secret), ...(key === undefined ? {} : { 'idempotency-key': key }) },
    payload,
  } satisfies InjectOptions);

describe('Idempotency-Key', () => {
  it('the same key and body → 200 with the original id and duplicate: true; one job', async () => {
    const first = await post('welcome:123', welcome);
    expect(first.statusCode).toBe(202);
    const { id } = first.json<{ id: string }>();
    expect(first.json()).toEqual({ id, queue: 'emails', name: 'welcome', duplicate: false });

    // Same content, keys in another order and other whitespace: the same request.
    const again = await app.inject({
      method: 'POST',
      url: '/v1/queues/emails/jobs',
      headers: {
        ...bearer(SECRETS.signup),
        'idempotency-key': 'welcome:123',
        'content-type': 'application/json',
      },
      payload: `{ "data": {"name":"Ada", "to": "ada@example.com", "userId": 123},  "name": "welcome" }`,
    });
    expect(again.statusCode).toBe(200);
    expect(again.json()).toEqual({ id, queue: 'emails', name: 'welcome', duplicate: true });
    expect(again.headers.location).toBe(`/v1/queues/emails/jobs/${id}`);
    expect(await jobCount(inspectQueue(redis, 'emails'))).toBe(1);
  });

  it('still answers with the original id after the job completed and was removed from Redis', async () => {
    const { id } = (await post('order-42', welcome)).json<{ id: string }>();
    await (await inspectQueue(redis, 'emails').getJob(id))?.remove();
    expect(await jobCount(inspectQueue(redis, 'emails'))).toBe(0);
    const again = await post('order-42', welcome);
    expect(again.statusCode).toBe(200);
    expect(again.json()).toMatchObject({ id, duplicate: true });
    expect(await jobCount(inspectQueue(redis, 'emails'))).toBe(0);
  });

  it('the same key with a different body → 422, and nothing is enqueued', async () => {
    await post('k-1', welcome);
    const other = await post('k-1', { ...welcome, data: { ...welcome.data, userId: 124 } });
    expect(other.statusCode).toBe(422);
    expect(other.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(other.json()).toMatchObject({ status: 422, code: 'JOBFLEET_IDEMPOTENCY_KEY_REUSED' });
    // The same key on another queue's route is another request too.
    const elsewhere = await post(
      'k-1',
      { name: 'daily-report', data: { tenantId: 'acme' } },
      SECRETS.admin,
      '/v1/queues/reports/jobs',
    );
    expect(elsewhere.statusCode).toBe(202);
    expect(await jobCount(inspectQueue(redis, 'emails'))).toBe(1);
  });

  it('is scoped per API key: another key with the same Idempotency-Key makes its own job', async () => {
    const mine = (await post('shared', welcome)).json<{ id: string }>();
    const theirs = await post('shared', welcome, SECRETS.hashed);
    expect(theirs.statusCode).toBe(202);
    expect(theirs.json<{ id: string }>().id).not.toBe(mine.id);
  });

  it('50 concurrent identical requests create exactly one job and all answer with its id', async () => {
    const responses = await Promise.all(Array.from({ length: 50 }, () => post('burst-1', welcome)));
    const ids = new Set(responses.map((r) => r.json<{ id: string }>().id));
    expect(responses.map((r) => r.statusCode).sort()).toEqual([...Array(49).fill(200), 202]);
    expect(ids.size).toBe(1);
    expect(await jobCount(inspectQueue(redis, 'emails'))).toBe(1);
    expect(responses.filter((r) => r.json<{ duplicate: boolean }>().duplicate)).toHaveLength(49);
  });

  it('an empty, over-long or non-printable key → 400, nothing enqueued', async () => {
    for (const key of ['', 'x'.repeat(256), 'tab\there', 'caf\u00e9']) {
      const response = await app.inject({
        method: 'POST',
        url: '/v1/queues/emails/jobs',
        headers: { ...bearer(SECRETS.signup), 'idempotency-key': key },
        payload: welcome,
      });
      expect(response.statusCode, JSON.stringify(key)).toBe(400);
      expect(response.json()).toMatchObject({
        errors: [{ path: '/idempotency-key', message: 'must be 1 to 255 printable ASCII characters' }],
      });
    }
    expect(await everythingQueued(redis)).toBe(0);
    // 255 printable characters, spaces included, are fine.
    expect((await post(`a b${'~'.repeat(252)}`, welcome)).statusCode).toBe(202);
  });

  it('a refused request (400) leaves the key free for the corrected retry', async () => {
    const bad = await post('fix-me', { ...welcome, data: { userId: 1, to: 'nope' } });
    expect(bad.statusCode).toBe(400);
    expect((await post('fix-me', welcome)).statusCode).toBe(202);
  });

  it('a request refused while doing the work (409) frees its key for the corrected retry', async () => {
    // The 400 above is refused before the key is claimed; this one is refused after.
    const vip = { ...welcome, options: { jobId: 'vip' } };
    expect((await post(undefined, vip, SECRETS.admin)).statusCode).toBe(202);
    const taken = await post('fix-me', vip);
    expect(taken.statusCode).toBe(409);
    expect(taken.json()).toMatchObject({ status: 409, code: 'JOBFLEET_JOB_ID_TAKEN' });
    const retry = await post('fix-me', { ...welcome, options: { jobId: 'vip-2' } });
    expect(retry.statusCode).toBe(202);
    expect(retry.json()).toEqual({ id: 'vip-2', queue: 'emails', name: 'welcome', duplicate: false });
  });

  it('claims a key only for requests that carry one, after the route checks; a request without one reads no record', async () => {
    const claimed: string[] = [];
    const store = app.idempotency;
    const claim = store.claim.bind(store);
    store.claim = (clientId, key, fingerprint) => {
      claimed.push(key);
      return claim(clientId, key, fingerprint);
    };
    expect((await post(undefined, welcome)).statusCode).toBe(202);
    expect(claimed).toEqual([]);
    expect(await redis.connection().keys(`${redis.prefix}:*idempotency*`)).toEqual([]);
    // A refused callback (a key without a webhookSecret) is refused before the claim.
    const refused = await post('checked-first', {
      ...welcome,
      options: { callback: { url: 'https://example.com/x' } },
    });
    expect(refused.statusCode).toBe(400);
    expect(claimed).toEqual([]);
    expect((await post('claimed', welcome)).statusCode).toBe(202);
    expect((await post('claimed', welcome)).statusCode).toBe(200);
    expect(claimed).toEqual(['claimed', 'claimed']);
  });

  it('a batch is idempotent too: the replay marks every job duplicate', async () => {
    const batch = { jobs: [welcome, { ...welcome, data: { ...welcome.data, userId: 2 } }] };
    const first = await post('batch-7', batch, SECRETS.signup, '/v1/queues/emails/jobs/batch');
    expect(first.statusCode).toBe(202);
    const again = await post('batch-7', batch, SECRETS.signup, '/v1/queues/emails/jobs/batch');
    expect(again.statusCode).toBe(200);
    const ids = first.json<{ jobs: { id: string }[] }>().jobs.map((j) => j.id);
    expect(again.json()).toEqual({
      jobs: ids.map((id) => ({ id, name: 'welcome', duplicate: true })),
    });
    expect(await jobCount(inspectQueue(redis, 'emails'))).toBe(2);
  });

  it('keeps records under the prefix, per key id, for IDEMPOTENCY_TTL', async () => {
    await app.close();
    app = await startGateway(redis, { config: testConfig(redis, { IDEMPOTENCY_TTL: '2h' }) });
    await post('ttl-check', welcome);
    const store = new IdempotencyStore({ redis: redis.connection(), prefix: redis.prefix, ttlMs: 1 });
    const key = store.keyOf('signup-service', 'ttl-check');
    expect(key.startsWith(`${redis.prefix}:jobfleet:idempotency:signup-service:`)).toBe(true);
    const ttl = await redis.connection().pttl(key);
    expect(ttl).toBeGreaterThan(2 * 3_600_000 - 60_000);
    expect(ttl).toBeLessThanOrEqual(2 * 3_600_000);
  });

  it('canonicalJson ignores key order but not array order', () => {
    expect(canonicalJson({ b: 1, a: [1, { d: 2, c: 3 }] })).toBe('{"a":[1,{"c":3,"d":2}],"b":1}');
    expect(canonicalJson([2, 1])).not.toBe(canonicalJson([1, 2]));
  });
});
