import { randomUUID } from 'node:crypto';
import { hostileRequests, useTestRedis } from '@jobfleet/test-utils';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, everythingQueued, SECRETS, startGateway, welcome } from './helpers.js';

const redis = useTestRedis();
const PREFIX = `hostile-${randomUUID().slice(0, 8)}`;
let app: FastifyInstance;

// One gateway for the whole file: the point is that it survives all of it.
beforeAll(async () => {
  app = await startGateway({ url: redis.url, prefix: PREFIX });
});
afterAll(async () => {
  await app.close();
});

const SEED = 20_250_131;
const COUNT = 1_000;

describe('hostile bodies', () => {
  it('the generator is deterministic and covers every kind of hostility', () => {
    const first = hostileRequests(SEED, COUNT);
    const again = hostileRequests(SEED, COUNT);
    expect(again).toEqual(first);
    expect(hostileRequests(SEED + 1, COUNT)).not.toEqual(first);
    const kinds = first.map((r) => r.kind).join('\n');
    for (const family of [
      /^wrong (name|data|options)/m,
      /^huge number/m,
      /^nesting \d+ deep/m,
      /^unknown field/m,
      /^bad UTF-8/m,
      /^pollution key/m,
      /^lone surrogate/m,
      /^broken JSON/m,
      /^content type/m,
      /^batch: /m,
      /^schedule: /m,
    ]) {
      expect(kinds).toMatch(family);
    }
  });

  it(`${COUNT} malformed or hostile bodies: never a 5xx, never a crash, always a problem, nothing enqueued`, async () => {
    const statuses = new Map<number, number>();
    const started = performance.now();
    for (const request of hostileRequests(SEED, COUNT)) {
      const response = await app.inject({
        method: request.method,
        url: request.url,
        headers: { ...bearer(SECRETS.ops), 'content-type': request.contentType },
        payload: request.payload,
      });
      const where = `${request.kind}: ${String(request.payload).slice(0, 200)} → ${response.body.slice(0, 300)}`;
      expect(response.statusCode, where).toBeGreaterThanOrEqual(400);
      expect(response.statusCode, where).toBeLessThan(500);
      expect(response.headers['content-type'], where).toMatch(/^application\/problem\+json/);
      statuses.set(response.statusCode, (statuses.get(response.statusCode) ?? 0) + 1);
    }
    const elapsed = performance.now() - started;
    expect([...statuses.keys()].sort()).toEqual(expect.arrayContaining([400, 415]));
    for (const status of statuses.keys()) expect([400, 413, 415]).toContain(status);
    expect(await everythingQueued({ ...redis, prefix: PREFIX })).toBe(0);
    // Not polluted, still serving.
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(({} as Record<string, unknown>).isAdmin).toBeUndefined();
    expect((await app.inject({ method: 'GET', url: '/health/live' })).statusCode).toBe(200);
    const ok = await app.inject({
      method: 'POST',
      url: '/v1/queues/emails/jobs',
      headers: bearer(SECRETS.ops),
      payload: welcome,
    });
    expect(ok.statusCode).toBe(202);
    expect(elapsed).toBeLessThan(30_000);
  });
});
