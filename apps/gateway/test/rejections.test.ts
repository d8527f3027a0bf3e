import { useTestRedis } from '@jobfleet/test-utils';
import type { FastifyInstance, InjectOptions } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { bearer, inspectQueue, jobCount, SECRETS, startGateway, welcome } from './helpers.js';

const redis = useTestRedis();
let app: FastifyInstance;

beforeEach(async () => {
  app = await startGateway(redis);
});
afterEach(async () => {
  await app.close();
});

interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: string;
  errors?: Array<{ path: string; message: string }>;
}

const post = (payload: unknown, overrides: Partial<InjectOptions> = {}): InjectOptions => ({
  method: 'POST',
  url: '/v1/queues/emails/jobs',
  headers: { ...bearer(SECRETS.signup), 'content-type': 'application/json' },
  payload: typeof payload === 'string' ? payload : JSON.stringify(payload),
  ...overrides,
});

/** Sends the request, checks it is a problem+json with `status`, and that no queue gained a job. */
async function expectRefused(request: InjectOptions, status: number): Promise<Problem> {
  const response = await app.inject(request);
  expect(response.statusCode, response.body).toBe(status);
  expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
  const problem = response.json<Problem>();
  expect(problem).toMatchObject({
    status,
    type: expect.stringMatching(/^https:\/\//),
    title: expect.any(String),
  });
  expect(problem.detail).toEqual(expect.any(String));
  expect(await jobCount(inspectQueue(redis, 'emails'))).toBe(0);
  expect(await jobCount(inspectQueue(redis, 'reports'))).toBe(0);
  return problem;
}

describe('bad enqueue requests are refused and enqueue nothing', () => {
  it('invalid payload → 400 naming the failing path', async () => {
    const problem = await expectRefused(
      post({ name: 'welcome', data: { userId: 123, to: 'not-an-email' } }),
      400,
    );
    expect(problem.code).toBe('FST_ERR_VALIDATION');
    expect(problem.errors).toEqual([{ path: '/data/to', message: expect.stringContaining('email') }]);
  });

  it('reports every failing path of the matching job only', async () => {
    const problem = await expectRefused(post({ name: 'welcome', data: { userId: -1 } }), 400);
    const paths = problem.errors?.map((e) => e.path) ?? [];
    expect(paths).toContain('/data/to');
    expect(paths).toContain('/data/userId');
    // No noise from the password-reset or notification branches.
    expect(paths).not.toContain('/data/resetUrl');
    expect(paths).not.toContain('/data/subject');
  });

  it('missing data → 400 at /data', async () => {
    const problem = await expectRefused(post({ name: 'welcome' }), 400);
    expect(problem.errors?.map((e) => e.path)).toEqual(['/data']);
  });

  it('unknown queue → 404', async () => {
    const problem = await expectRefused(
      post(welcome, { url: '/v1/queues/nope/jobs', headers: { ...bearer(SECRETS.admin) } }),
      404,
    );
    expect(problem.code).toBe('JOBFLEET_UNKNOWN_QUEUE');
    expect(problem.detail).toContain('emails');
  });

  it('unknown queue → 404 even for a key scoped to another queue, and before the body is read', async () => {
    const problem = await expectRefused(post('{not json', { url: '/v1/queues/nope/jobs' }), 404);
    expect(problem.code).toBe('JOBFLEET_UNKNOWN_QUEUE');
  });

  it('unknown job name → 400 naming the allowed names', async () => {
    const problem = await expectRefused(post({ name: 'goodbye', data: {} }), 400);
    expect(problem.errors).toEqual([
      { path: '/name', message: 'must be one of "welcome", "password-reset", "notification"' },
    ]);
    expect(problem.detail).toContain('welcome');
  });

  it('missing or non-string job name → 400 at /name', async () => {
    for (const body of [{ data: welcome.data }, { name: 42, data: welcome.data }]) {
      const problem = await expectRefused(post(body), 400);
      expect(problem.errors?.map((e) => e.path)).toEqual(['/name']);
    }
  });

  it('no key → 401 with WWW-Authenticate: Bearer', async () => {
    const response = await app.inject(post(welcome, { headers: { 'content-type': 'application/json' } }));
    expect(response.headers['www-authenticate']).toMatch(/^Bearer realm="jobfleet"/);
    await expectRefused(post(welcome, { headers: { 'content-type': 'application/json' } }), 401);
  });

  it('unknown key, or a malformed Authorization header → 401', async () => {
    for (const authorization of [
      'Bearer not-a-configured-key-123',
      'Basic Zm9vOmJhcg==',
      'Bearer',
      `Token ${SECRETS.signup}`,
    ]) {
      const problem = await expectRefused(
        post(welcome, { headers: { authorization, 'content-type': 'application/json' } }),
        401,
      );
      expect(problem.code).toBe('JOBFLEET_UNAUTHORIZED');
    }
  });

  it('401 comes before any body check: an unauthenticated malformed body is a 401, not a 400', async () => {
    await expectRefused(post('{not json', { headers: { 'content-type': 'application/json' } }), 401);
    await expectRefused(post('x', { headers: { 'content-type': 'text/plain' } }), 401);
  });

  it('key without the scope → 403', async () => {
    const response = await app.inject(post(welcome, { headers: bearer(SECRETS.reportsOnly) }));
    expect(response.headers['www-authenticate']).toContain('error="insufficient_scope"');
    const problem = await expectRefused(post(welcome, { headers: bearer(SECRETS.reportsOnly) }), 403);
    expect(problem.code).toBe('JOBFLEET_FORBIDDEN');
    expect(problem.detail).toContain('emails:enqueue');
  });

  it('malformed JSON → 400', async () => {
    const problem = await expectRefused(post('{"name": "welcome", "data": '), 400);
    expect(problem.code).toBe('FST_ERR_CTP_INVALID_JSON_BODY');
  });

  it('empty JSON body, a JSON array and JSON null → 400', async () => {
    await expectRefused(post(''), 400);
    await expectRefused(post('[]'), 400);
    await expectRefused(post('null'), 400);
  });

  it('prototype poisoning → 400', async () => {
    await expectRefused(
      post('{"name":"welcome","data":{"userId":1,"to":"a@b.co"},"__proto__":{"x":1}}'),
      400,
    );
  });

  it('a body that is not valid UTF-8 → 400, not repaired', async () => {
    const bytes = Buffer.concat([
      Buffer.from('{"name":"welcome","data":{"userId":1,"to":"ada@example.com","name":"'),
      Buffer.from([0xff, 0xfe]),
      Buffer.from('"}}'),
    ]);
    const problem = await expectRefused(post(bytes.toString('latin1'), { payload: bytes }), 400);
    expect(problem.code).toBe('JOBFLEET_INVALID_UTF8');
  });

  it('unknown options field → 400', async () => {
    const problem = await expectRefused(
      post({ ...welcome, options: { delay: 10, removeOnComplete: true } }),
      400,
    );
    expect(problem.errors).toEqual([
      { path: '/options/removeOnComplete', message: 'is not an allowed property' },
    ]);
  });

  it('options out of range → 400', async () => {
    for (const options of [
      { delay: -1 },
      { delay: 30 * 86_400_000 + 1 },
      { attempts: 0 },
      { attempts: 26 },
      { priority: 2 ** 21 },
      { priority: 1.5 },
      { delay: '10' },
    ]) {
      const problem = await expectRefused(post({ ...welcome, options }), 400);
      expect(problem.errors?.[0]?.path).toBe(`/options/${Object.keys(options)[0]}`);
    }
  });

  it("a custom jobId against BullMQ's rules → 400 that explains them and points to Idempotency-Key", async () => {
    for (const jobId of ['123', '-5', '0', 'order:1', '', 'x'.repeat(257), 'with space', 'caf\u00e9', 7]) {
      const problem = await expectRefused(post({ ...welcome, options: { jobId } }), 400);
      expect(problem.errors?.[0]?.path, JSON.stringify(jobId)).toBe('/options/jobId');
      if (typeof jobId === 'string') {
        expect(problem.errors?.[0]?.message).toContain('contain no ":" and not be an integer');
        expect(problem.errors?.[0]?.message).toContain('Idempotency-Key');
      }
    }
  });

  it('a bad backoff → 400', async () => {
    for (const backoff of [
      { type: 'linear', delay: 10 },
      { type: 'fixed' },
      { type: 'fixed', delay: 10, jitter: 2 },
      { type: 'fixed', delay: -1 },
      { type: 'fixed', delay: 10, custom: true },
      'exponential',
    ]) {
      const problem = await expectRefused(post({ ...welcome, options: { backoff } }), 400);
      expect(problem.errors?.[0]?.path, JSON.stringify(backoff)).toMatch(/^\/options\/backoff/);
    }
  });

  it('unknown field in data → 400', async () => {
    const problem = await expectRefused(post({ ...welcome, data: { ...welcome.data, admin: true } }), 400);
    expect(problem.errors).toEqual([{ path: '/data/admin', message: 'is not an allowed property' }]);
  });

  it('unknown field in the envelope → 400', async () => {
    const problem = await expectRefused(post({ ...welcome, priority: 1 }), 400);
    expect(problem.errors).toEqual([{ path: '/priority', message: 'is not an allowed property' }]);
  });

  it('types are not coerced: a numeric string is not an integer', async () => {
    const problem = await expectRefused(
      post({
        name: 'password-reset',
        data: { userId: 1, to: 'ada@example.com', resetUrl: 'https://x.io', expiresInMinutes: '5' },
      }),
      400,
    );
    expect(problem.errors?.map((e) => e.path)).toEqual(['/data/expiresInMinutes']);
  });

  it('wrong content type → 415', async () => {
    for (const contentType of [
      'text/plain',
      'application/x-www-form-urlencoded',
      'application/json; charset=latin1',
    ]) {
      const problem = await expectRefused(
        post(JSON.stringify(welcome), {
          headers: { ...bearer(SECRETS.signup), 'content-type': contentType },
        }),
        415,
      );
      expect(problem.title).toBe('Unsupported media type');
    }
  });

  it('body too large → 413', async () => {
    const huge = JSON.stringify({ ...welcome, data: { ...welcome.data, name: 'x'.repeat(1_100_000) } });
    const problem = await expectRefused(post(huge), 413);
    expect(problem.code).toBe('FST_ERR_CTP_BODY_TOO_LARGE');
  });

  it('unknown routes → 404 problem', async () => {
    for (const request of [
      { method: 'GET' as const, url: '/v2/anything' },
      { method: 'DELETE' as const, url: '/v1/queues/emails/jobs' },
    ]) {
      const response = await app.inject(request);
      expect(response.statusCode).toBe(404);
      expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(response.json()).toMatchObject({ status: 404, code: 'JOBFLEET_ROUTE_NOT_FOUND' });
    }
  });

  it('router-level errors are problems too: bad percent-encoding → 400, an over-long id → 414', async () => {
    for (const [url, status] of [
      ['/v1/queues/%ff/jobs/1', 400],
      [`/v1/queues/emails/jobs/${'x'.repeat(600)}`, 414],
    ] as const) {
      const response = await app.inject({ method: 'GET', url, headers: bearer(SECRETS.signup) });
      expect(response.statusCode).toBe(status);
      expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(response.headers['x-request-id']).toEqual(expect.any(String));
      expect(response.json()).toMatchObject({ status });
    }
  });
});
