import { DeadLetterStore } from '@jobfleet/dead-letter-store';
import { toDeadLetter } from '@jobfleet/queue-contracts';
import { useTestRedis } from '@jobfleet/test-utils';
import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import {
  bearer,
  inspectQueue,
  jobCount,
  KEY_LIST,
  SECRETS,
  startGateway,
  testConfig,
  welcome,
} from './helpers.js';

const redis = useTestRedis();
let app: FastifyInstance | undefined;
let store: DeadLetterStore | undefined;

const DLQ = {
  ops: 'dlq-ops-secret-0123456789',
  acme: 'dlq-acme-secret-0123456789',
  globex: 'dlq-globex-secret-0123456789',
};
const KEYS = [
  ...KEY_LIST,
  { id: 'dlq-ops', key: DLQ.ops, scopes: ['dead-letters:manage', 'emails:enqueue'] },
  { id: 'dlq-acme', key: DLQ.acme, tenant: 'acme', scopes: ['dead-letters:manage', 'emails:enqueue'] },
  { id: 'dlq-globex', key: DLQ.globex, tenant: 'globex', scopes: ['dead-letters:manage', 'emails:enqueue'] },
];

afterEach(async () => {
  await store?.close();
  store = undefined;
  await app?.close();
  app = undefined;
});

async function gateway() {
  app = await startGateway(redis, {
    config: testConfig(redis, { GATEWAY_API_KEYS: JSON.stringify(KEYS) }),
  });
  store = new DeadLetterStore({ connection: redis.connection(), prefix: redis.prefix });
  return app;
}

interface RecordView {
  id: string;
  queue: string;
  jobName: string;
  data: unknown;
  failedReason: string;
  redrive?: { by: string; at: string; jobId: string };
}

/**
 * Posts a job through the gateway, then records its final failure as the
 * worker runtime and the DLQ processor do (`toDeadLetter`, capture, index).
 */
async function failedJob(
  secret: string,
  data: object,
  reason = 'SMTP 550: mailbox unavailable',
  at = Date.now(),
) {
  const posted = await app?.inject({
    method: 'POST',
    url: '/v1/queues/emails/jobs',
    headers: bearer(secret),
    payload: { name: 'welcome', data },
  });
  expect(posted?.statusCode).toBe(202);
  const job = await inspectQueue(redis, 'emails').getJob(posted?.json<{ id: string }>().id ?? '');
  if (!job || !store) throw new Error('job or store missing');
  const record = toDeadLetter({
    ...job,
    queueName: 'emails',
    failedReason: reason,
    attemptsMade: 3,
    finishedOn: at,
  });
  const id = await store.capture(record);
  await store.index(id, record);
  return id;
}

const get = (url: string, secret = DLQ.ops) => app?.inject({ method: 'GET', url, headers: bearer(secret) });
const redrive = (id: string, payload?: object, secret = DLQ.ops) =>
  app?.inject({
    method: 'POST',
    url: `/v1/dead-letters/${encodeURIComponent(id)}/redrive`,
    headers: bearer(secret),
    ...(payload ? { payload } : {}),
  });

async function metricValue(queue: string): Promise<number | undefined> {
  const text = (await app?.inject({ method: 'GET', url: '/metrics' }))?.body ?? '';
  const match = new RegExp(`^jobfleet_dead_letter_redrives_total\\{queue="${queue}"\\} (\\d+)$`, 'm').exec(
    text,
  );
  return match?.[1] === undefined ? undefined : Number(match[1]);
}

describe('dead letters', () => {
  it('fail → list → redrive with a fixed payload → the job is back in its queue → a second redrive is a 409', async () => {
    await gateway();
    expect(await metricValue('emails')).toBe(0);
    expect(await metricValue('reports')).toBe(0);
    const id = await failedJob(DLQ.ops, { userId: 7, to: 'typo@exmaple.com', name: 'Ada' });

    const list = await get('/v1/dead-letters?queue=emails');
    expect(list?.statusCode).toBe(200);
    const items = list?.json<{ items: RecordView[] }>().items ?? [];
    expect(items.map((item) => item.id)).toEqual([id]);
    expect(items[0]).toMatchObject({
      queue: 'emails',
      jobName: 'welcome',
      failedReason: 'SMTP 550: mailbox unavailable',
    });

    const emails = inspectQueue(redis, 'emails');
    const before = await jobCount(emails);
    const fixed = { userId: 7, to: 'ada@example.com', name: 'Ada' };
    const sent = await redrive(id, { data: fixed });
    expect(sent?.statusCode).toBe(202);
    const { jobId } = sent?.json<{ jobId: string }>() ?? { jobId: '' };
    expect(sent?.json()).toEqual({ id, queue: 'emails', jobName: 'welcome', jobId });

    const job = await emails.getJob(jobId);
    expect(job?.name).toBe('welcome');
    expect(job?.data).toEqual(fixed);
    expect(job?.attemptsMade).toBe(0);
    expect(job?.opts.attempts).toBeGreaterThan(0);
    expect(await job?.getState()).toBe('waiting');
    expect(await jobCount(emails)).toBe(before + 1);

    const record = await get(`/v1/dead-letters/${encodeURIComponent(id)}`);
    expect(record?.statusCode).toBe(200);
    expect(record?.json<RecordView>().redrive).toMatchObject({ by: 'dlq-ops', jobId });

    const again = await redrive(id, { data: fixed });
    expect(again?.statusCode).toBe(409);
    expect(again?.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(again?.json()).toMatchObject({ code: 'JOBFLEET_DEAD_LETTER_REDRIVEN', status: 409 });
    expect(await jobCount(emails)).toBe(before + 1);
    expect(await metricValue('emails')).toBe(1);
  });

  it('refuses a payload that breaks the contract with a 400 pointing under /data, and enqueues nothing', async () => {
    await gateway();
    const id = await failedJob(DLQ.ops, welcome.data);
    const emails = inspectQueue(redis, 'emails');
    const before = await jobCount(emails);
    const refused = await redrive(id, { data: { userId: 7, to: 'not an address' } });
    expect(refused?.statusCode).toBe(400);
    const problem = refused?.json<{ code: string; errors: { path: string }[] }>();
    expect(problem?.code).toBe('FST_ERR_VALIDATION');
    expect(problem?.errors.map((e) => e.path)).toContain('/data/to');
    expect(await jobCount(emails)).toBe(before);
    // Not spent: the record can still be redriven, with its own payload.
    expect(
      (await get(`/v1/dead-letters/${encodeURIComponent(id)}`))?.json<RecordView>().redrive,
    ).toBeUndefined();
    expect((await redrive(id))?.statusCode).toBe(202);
    expect(await jobCount(emails)).toBe(before + 1);
  });

  it('pages newest first with a cursor, and filters by name and since', async () => {
    await gateway();
    const t0 = Date.now() - 60_000;
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push(await failedJob(DLQ.ops, welcome.data, 'boom', t0 + i * 1_000));
    const seen: string[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < 5; page++) {
      const response = await get(`/v1/dead-letters?limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      expect(response?.statusCode).toBe(200);
      const body = response?.json<{ items: RecordView[]; nextCursor?: string }>();
      seen.push(...(body?.items.map((item) => item.id) ?? []));
      cursor = body?.nextCursor;
      if (!cursor) break;
    }
    expect(seen).toEqual([...ids].reverse());
    const since = new Date(t0 + 3_000).toISOString();
    const recent = await get(`/v1/dead-letters?since=${encodeURIComponent(since)}&name=welcome`);
    expect(recent?.json<{ items: RecordView[] }>().items.map((item) => item.id)).toEqual([ids[4], ids[3]]);
    expect((await get('/v1/dead-letters?name=password-reset'))?.json()).toEqual({ items: [] });
  });

  it('answers 400 for a bad limit, since or cursor, 403 without the scope, 401 without a key', async () => {
    await gateway();
    for (const query of ['limit=0', 'limit=1001', 'limit=ten', 'since=yesterday', 'cursor=not!a!cursor']) {
      const response = await get(`/v1/dead-letters?${query}`);
      expect(response?.statusCode, query).toBe(400);
    }
    const cursor = await get('/v1/dead-letters?cursor=bm90LWEtY3Vyc29y');
    expect(cursor?.statusCode).toBe(400);
    expect(cursor?.json<{ errors: { path: string }[] }>().errors[0]?.path).toBe('/cursor');
    const forbidden = await get('/v1/dead-letters', SECRETS.ops);
    expect(forbidden?.statusCode).toBe(403);
    expect(forbidden?.json()).toMatchObject({ code: 'JOBFLEET_FORBIDDEN' });
    expect((await app?.inject({ method: 'GET', url: '/v1/dead-letters' }))?.statusCode).toBe(401);
    expect((await get('/v1/dead-letters', SECRETS.admin))?.statusCode).toBe(200);
  });

  it('shows a tenant key only its own tenant’s records', async () => {
    await gateway();
    const acme = await failedJob(DLQ.acme, welcome.data);
    const globex = await failedJob(DLQ.globex, welcome.data);
    const platform = await failedJob(DLQ.ops, welcome.data);

    /** Every record a key sees, one per page. */
    const listed = async (secret: string) => {
      const ids: string[] = [];
      let cursor: string | undefined;
      do {
        const page = await get(`/v1/dead-letters?limit=1${cursor ? `&cursor=${cursor}` : ''}`, secret);
        const body = page?.json<{ items: RecordView[]; nextCursor?: string }>();
        ids.push(...(body?.items.map((item) => item.id) ?? []));
        cursor = body?.nextCursor;
      } while (cursor);
      return ids;
    };
    expect(await listed(DLQ.acme)).toEqual([acme]);
    expect(await listed(DLQ.globex)).toEqual([globex]);
    expect((await listed(DLQ.ops)).sort()).toEqual([acme, globex, platform].sort());

    const path = `/v1/dead-letters/${encodeURIComponent(globex)}`;
    expect((await get(path, DLQ.acme))?.statusCode).toBe(404);
    expect((await redrive(globex, undefined, DLQ.acme))?.statusCode).toBe(404);
    expect((await app?.inject({ method: 'DELETE', url: path, headers: bearer(DLQ.acme) }))?.statusCode).toBe(
      404,
    );

    const bulk = await app?.inject({
      method: 'POST',
      url: '/v1/dead-letters/redrive',
      headers: bearer(DLQ.acme),
      payload: { limit: 100 },
    });
    expect(bulk?.statusCode).toBe(200);
    expect(bulk?.json()).toMatchObject({ redriven: 1, skipped: 0 });
    expect((await get(path))?.json<RecordView>().redrive).toBeUndefined();
    expect(
      (await get(`/v1/dead-letters/${encodeURIComponent(acme)}`))?.json<RecordView>().redrive,
    ).toMatchObject({
      by: 'dlq-acme',
    });
  });

  it('redrives in bulk by filter, up to the limit, and skips what was redriven before', async () => {
    await gateway();
    const t0 = Date.now() - 60_000;
    const timeouts = [
      await failedJob(DLQ.ops, welcome.data, 'ETIMEDOUT talking to SMTP', t0),
      await failedJob(DLQ.ops, welcome.data, 'etimedout again', t0 + 1_000),
      await failedJob(DLQ.ops, welcome.data, 'ETIMEDOUT once more', t0 + 2_000),
    ];
    await failedJob(DLQ.ops, welcome.data, 'mailbox full', t0 + 3_000);
    const bulk = (payload: object) =>
      app?.inject({ method: 'POST', url: '/v1/dead-letters/redrive', headers: bearer(DLQ.ops), payload });

    const first = await bulk({ queue: 'emails', reasonContains: 'ETIMEDOUT', limit: 2 });
    expect(first?.statusCode).toBe(200);
    expect(first?.json()).toMatchObject({ redriven: 2, skipped: 0 });
    // Newest first.
    const redriven = async (id: string) =>
      (await get(`/v1/dead-letters/${encodeURIComponent(id)}`))?.json<RecordView>().redrive !== undefined;
    expect(await Promise.all(timeouts.map(redriven))).toEqual([false, true, true]);
    const second = await bulk({ reasonContains: 'etimedout', limit: 1000 });
    expect(second?.json()).toMatchObject({ redriven: 1 });
    expect(await metricValue('emails')).toBe(3);
    expect((await bulk({ limit: 1001 }))?.statusCode).toBe(400);
    expect((await bulk({}))?.statusCode).toBe(400);
  });

  it('deletes a record: 204, then 404', async () => {
    await gateway();
    const id = await failedJob(DLQ.ops, welcome.data);
    const path = `/v1/dead-letters/${encodeURIComponent(id)}`;
    const deleted = await app?.inject({ method: 'DELETE', url: path, headers: bearer(DLQ.ops) });
    expect(deleted?.statusCode).toBe(204);
    expect((await get(path))?.statusCode).toBe(404);
    expect((await get(path))?.json()).toMatchObject({ code: 'JOBFLEET_DEAD_LETTER_NOT_FOUND' });
    expect((await app?.inject({ method: 'DELETE', url: path, headers: bearer(DLQ.ops) }))?.statusCode).toBe(
      404,
    );
    expect((await redrive(id))?.statusCode).toBe(404);
    expect((await get('/v1/dead-letters'))?.json()).toEqual({ items: [] });
  });

  it('answers 409 when the stored payload no longer fits, pointing into the record and asking for `data`', async () => {
    await gateway();
    const id = await failedJob(DLQ.ops, welcome.data);
    // The stored payload goes bad (as when the contract tightens after the failure).
    const key = store?.keys.job(id) ?? '';
    const admin = redis.connection();
    const stored = JSON.parse((await admin.hget(key, 'data')) ?? '{}') as RecordView;
    await admin.hset(key, 'data', JSON.stringify({ ...stored, data: { userId: 7, to: 'not an address' } }));
    const emails = inspectQueue(redis, 'emails');
    const before = await jobCount(emails);

    const refused = await redrive(id);
    expect(refused?.statusCode).toBe(409);
    expect(refused?.headers['content-type']).toMatch(/^application\/problem\+json/);
    const problem = refused?.json<{ code: string; detail: string; errors: { path: string }[] }>();
    expect(problem?.code).toBe('JOBFLEET_DEAD_LETTER_STORED_PAYLOAD_INVALID');
    expect(problem?.detail).toMatch(/stored payload of dead-letter record .* no longer fits/);
    expect(problem?.detail).toContain('replacement payload as `data`');
    expect(problem?.detail).not.toContain('request body');
    expect(problem?.errors.map((e) => e.path)).toContain('/data/to');
    expect(await jobCount(emails)).toBe(before);

    // A replacement, as asked: 202.
    const fixed = await redrive(id, { data: { userId: 7, to: 'ada@example.com', name: 'Ada' } });
    expect(fixed?.statusCode).toBe(202);
  });

  it('bulk redrive reads at most what it needs: `scanned` and `nextCursor` bound each request', async () => {
    await gateway();
    const t0 = Date.now() - 60_000;
    const ids: string[] = [];
    for (let i = 0; i < 12; i++) ids.push(await failedJob(DLQ.ops, welcome.data, 'boom', t0 + i * 1_000));
    const acme = await failedJob(DLQ.acme, welcome.data, 'boom', t0 - 1_000);
    const bulk = (payload: object, secret = DLQ.ops) =>
      app?.inject({ method: 'POST', url: '/v1/dead-letters/redrive', headers: bearer(secret), payload });

    const first = await bulk({ limit: 5 });
    expect(first?.statusCode).toBe(200);
    const page = first?.json<{ redriven: number; scanned: number; nextCursor?: string; jobIds: string[] }>();
    expect(page).toMatchObject({ redriven: 5, skipped: 0, scanned: 5 });
    expect(page?.nextCursor).toEqual(expect.any(String));
    const next = await bulk({ limit: 5, cursor: page?.nextCursor });
    expect(next?.json()).toMatchObject({ redriven: 5, scanned: 5 });
    // A tenant key reads past other tenants' records, within the same bound, to its own.
    const tenant = await bulk({ limit: 1 }, DLQ.acme);
    expect(tenant?.json()).toMatchObject({ redriven: 1, scanned: 13 });
    expect(tenant?.json()).not.toHaveProperty('nextCursor');
    expect(
      (await get(`/v1/dead-letters/${encodeURIComponent(acme)}`))?.json<RecordView>().redrive,
    ).toMatchObject({ by: 'dlq-acme' });
    const bad = await bulk({ limit: 5, cursor: 'not!a!cursor' });
    expect(bad?.statusCode).toBe(400);
    expect(bad?.json<{ detail: string; errors: { path: string }[] }>()).toMatchObject({
      detail: expect.stringMatching(/^invalid request body/),
      errors: [{ path: '/cursor' }],
    });
  });

  it('shows the attempts a job really had: one for a job added on BullMQ’s default', async () => {
    await gateway();
    // A producer outside the gateway, adding without options: BullMQ keeps `attempts: 0` and runs it once.
    const job = await inspectQueue(redis, 'emails').add('welcome', welcome.data);
    expect(job.opts.attempts).toBe(0);
    if (!store) throw new Error('store missing');
    const record = toDeadLetter({
      ...job,
      queueName: 'emails',
      failedReason: 'boom',
      attemptsMade: 1,
      finishedOn: Date.now(),
    });
    const id = await store.capture(record);
    await store.index(id, record);
    const shown = await get(`/v1/dead-letters/${encodeURIComponent(id)}`);
    expect(shown?.json()).toMatchObject({ options: { attempts: 1 }, attemptsMade: 1 });
  });
});
