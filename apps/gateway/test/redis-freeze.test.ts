import { createRedisConnection, waitUntilConnected } from '@jobfleet/service-kit';
import { type RedisServer, startRedisServer } from '@jobfleet/test-utils';
import { Queue } from 'bullmq';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { DEFAULT_REDIS_COMMAND_TIMEOUT_MS } from '../src/config.js';
import { bearer, eventually, SECRETS, startGateway, testConfig, welcome } from './helpers.js';

/**
 * A frozen Redis (SIGSTOP: connections stay open, nothing answers) and a full
 * one (`maxmemory` with `noeviction`), against the gateway's promise: every
 * answer comes within about a second, a 503 means nothing was written, a 504
 * `JOBFLEET_OUTCOME_UNKNOWN` means "retry with the same Idempotency-Key", and
 * such retries converge on exactly one job per key.
 */

/** The correctness bound of an answer while Redis is frozen: the 750 ms command timeout plus margin. */
const ANSWER_BOUND_MS = 1_500;

let server: RedisServer;
let app: FastifyInstance;
let admin: Redis;
let pid: number;
let frozen = false;

const freeze = () => {
  process.kill(pid, 'SIGSTOP');
  frozen = true;
};
const thaw = () => {
  if (frozen) process.kill(pid, 'SIGCONT');
  frozen = false;
};

beforeAll(async () => {
  // This test's own Redis, since it freezes it.
  server = await startRedisServer();
  const target = { url: server.url, prefix: 'freeze' };
  const config = testConfig(target, { REDIS_COMMAND_TIMEOUT_MS: String(DEFAULT_REDIS_COMMAND_TIMEOUT_MS) });
  app = await startGateway(target, { config });
  admin = createRedisConnection({ url: server.url, flavour: 'producer' });
  await waitUntilConnected(admin);
  pid = Number(/^process_id:(\d+)/m.exec(await admin.info('server'))?.[1]);
  expect(pid).toBeGreaterThan(0);
});

afterEach(async () => {
  thaw();
  vi.restoreAllMocks();
  await admin.config('SET', 'maxmemory', '0');
  await admin.flushall();
});

afterAll(async () => {
  thaw();
  admin?.disconnect();
  await app?.close();
  await server?.stop();
});

/** The id of every job in `emails`, in any state. */
async function emailJobIds(): Promise<string[]> {
  const queue = new Queue('emails', { connection: admin, prefix: 'freeze' });
  const jobs = await queue.getJobs(['wait', 'prioritized', 'delayed', 'active', 'completed', 'failed']);
  return jobs.map((job) => String(job.id));
}

const post = (key: string | undefined, batch = false): Promise<LightMyRequestResponse> =>
  app.inject({
    method: 'POST',
    url: batch ? '/v1/queues/emails/jobs/batch' : '/v1/queues/emails/jobs',
    headers: { ...bearer(SECRETS.signup), ...(key === undefined ? {} : { 'idempotency-key': key }) },
    payload: batch ? { jobs: [welcome, welcome] } : welcome,
  });

/** Checks an error answer's promise: 503 nothing written, 504 unknown; both problems with Retry-After. */
function expectHonestRefusal(response: LightMyRequestResponse) {
  expect([503, 504], response.body).toContain(response.statusCode);
  expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
  if (response.statusCode === 504) {
    expect(response.json()).toMatchObject({ code: 'JOBFLEET_OUTCOME_UNKNOWN' });
    expect(response.headers['retry-after']).toBe('2');
  } else {
    expect(response.json()).toMatchObject({ code: 'JOBFLEET_REDIS_UNAVAILABLE' });
    expect(response.headers['retry-after']).toBe('1');
  }
}

describe('Redis frozen', () => {
  it('answers every request in time while frozen; retries with the same keys converge on one job per key', async () => {
    type Sent = { key: string; batch: boolean; response: LightMyRequestResponse; took: number };
    const sent: Sent[] = [];
    let running = true;
    let n = 0;
    // Six clients back to back, each request with a key of its own; one in three a batch of two.
    const client = async (c: number) => {
      while (running) {
        const key = `load-${c}-${n++}`;
        const batch = n % 3 === 0;
        const started = performance.now();
        const response = await post(key, batch);
        sent.push({ key, batch, response, took: performance.now() - started });
        await new Promise((resolve) => setImmediate(resolve));
      }
    };
    const clients = [0, 1, 2, 3, 4, 5].map(client);
    await eventually(async () => (sent.length >= 20 ? true : undefined));
    freeze();
    const frozenAt = sent.length;
    // Frozen for as long as it takes to answer three rounds of requests.
    await eventually(async () => (sent.length >= frozenAt + 18 ? true : undefined), 10_000);
    thaw();
    running = false;
    await Promise.all(clients);

    const refused = sent.filter((s) => s.response.statusCode >= 300);
    expect(refused.length).toBeGreaterThanOrEqual(12);
    for (const s of sent) {
      expect(s.took, `${s.key}: ${s.response.statusCode}`).toBeLessThan(ANSWER_BOUND_MS);
      if (s.response.statusCode >= 300) expectHonestRefusal(s.response);
      else expect(s.response.statusCode).toBe(202);
    }

    // As the docs tell clients: retry each refused request with its key until it is answered.
    const answers = new Map<string, { ids: string[]; status: number }>();
    for (const s of sent) {
      let response = s.response;
      for (let attempt = 0; response.statusCode >= 300 && attempt < 20; attempt++) {
        response = await post(s.key, s.batch);
        if (response.statusCode >= 300) {
          expect(response.statusCode, response.body).toBe(409);
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      }
      expect([200, 202], response.body).toContain(response.statusCode);
      const body = response.json();
      const ids: string[] = s.batch ? body.jobs.map((j: { id: string }) => j.id) : [body.id];
      answers.set(s.key, { ids, status: response.statusCode });
    }

    // Exactly one job per key (two per batch key), each the one its answer names.
    const expected = [...answers.values()].flatMap((a) => a.ids).sort();
    expect(new Set(expected).size).toBe(expected.length);
    expect((await emailJobIds()).sort()).toEqual(expected);
  }, 30_000);

  it('a write sent to a frozen Redis answers 504 and keeps the key; the retry finds the job (200 duplicate)', async () => {
    const entry = app.queues.get('emails');
    if (!entry) throw new Error('no emails queue');
    const add = entry.queue.add.bind(entry.queue);
    // Frozen exactly between the claim of the key and the write: the write is sent and never answered.
    vi.spyOn(entry.queue, 'add').mockImplementationOnce((...args) => {
      freeze();
      return add(...args);
    });
    const first = await post('unknown-outcome');
    expect(first.statusCode, first.body).toBe(504);
    expectHonestRefusal(first);
    thaw();

    const retry = await post('unknown-outcome');
    expect(retry.statusCode, retry.body).toBe(200);
    expect(retry.json()).toMatchObject({ duplicate: true });
    expect(await emailJobIds()).toEqual([retry.json().id]);
    // And the answer is kept as any other.
    const again = await post('unknown-outcome');
    expect(again.json()).toEqual(retry.json());
  });

  it('a request without a key is answered 504 when its write is sent: the job may well exist', async () => {
    freeze();
    const first = await post(undefined);
    expectHonestRefusal(first);
    expect(first.statusCode).toBe(504);
    thaw();
    // The write was queued on the connection and runs once Redis answers again: a 503 would have lied.
    await eventually(async () => ((await emailJobIds()).length === 1 ? true : undefined));
  });

  it('a key claimed while Redis is frozen is 503 (nothing written) and free again for the retry', async () => {
    freeze();
    const first = await post('claim-frozen');
    expect(first.statusCode).toBe(503);
    expectHonestRefusal(first);
    thaw();
    const retry = await post('claim-frozen');
    expect(retry.statusCode, retry.body).toBe(202);
    expect(await emailJobIds()).toEqual([retry.json().id]);
  });
});

describe('Redis full', () => {
  it('answers 503 JOBFLEET_REDIS_FULL with a long Retry-After, still serves reads, and enqueues once it has room', async () => {
    const accepted = await post('before-full');
    expect(accepted.statusCode).toBe(202);
    await admin.config('SET', 'maxmemory', '1');
    const full = await post('while-full');
    expect(full.statusCode, full.body).toBe(503);
    expect(full.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(full.json()).toMatchObject({ status: 503, code: 'JOBFLEET_REDIS_FULL' });
    expect(full.headers['retry-after']).toBe('30');
    const keyless = await post(undefined);
    expect(keyless.json()).toMatchObject({ code: 'JOBFLEET_REDIS_FULL' });
    const status = await app.inject({
      method: 'GET',
      url: `/v1/queues/emails/jobs/${encodeURIComponent(accepted.json().id)}`,
      headers: bearer(SECRETS.signup),
    });
    expect(status.statusCode, status.body).toBe(200);
    const ready = await app.inject({ method: 'GET', url: '/health/ready' });
    expect(ready.statusCode).toBe(503);

    await admin.config('SET', 'maxmemory', '0');
    const retry = await post('while-full');
    expect(retry.statusCode, retry.body).toBe(202);
    expect((await emailJobIds()).sort()).toEqual([accepted.json().id, retry.json().id].sort());
    expect((await app.inject({ method: 'GET', url: '/health/ready' })).statusCode).toBe(200);
  });
});
