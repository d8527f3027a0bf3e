import { describe, expect, it } from 'vitest';
import {
  bearer,
  enqueue,
  eventually,
  inspectQueue,
  SECRETS,
  testConfig,
  useGateway,
  welcome,
} from './helpers.js';

const { redis, startApp } = useGateway();

// Exact counts: a lease refresh slower than the default 100 ms (a loaded machine) would let a request through uncounted.
const COUNTED = { RATE_LIMIT_COUNT_WAIT_MS: '10s' };

describe('rate limits', () => {
  it("a key's own budget: over it → 429 with Retry-After, nothing enqueued; other keys unaffected", async () => {
    const app = await startApp({ config: testConfig(redis, COUNTED) });
    const answers = [];
    for (let i = 0; i < 5; i++) answers.push(await enqueue(app, SECRETS.limited));
    expect(answers.map((a) => a.statusCode)).toEqual([202, 202, 202, 429, 429]);
    const refused = answers[3];
    expect(refused?.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(refused?.json()).toMatchObject({ status: 429, code: 'JOBFLEET_RATE_LIMITED' });
    expect(Number(refused?.headers['retry-after'])).toBeGreaterThan(0);
    expect(Number(refused?.headers['retry-after'])).toBeLessThanOrEqual(60);
    expect(answers[0]?.headers['x-ratelimit-limit']).toBe('3');
    expect(answers[0]?.headers['x-ratelimit-remaining']).toBe('2');
    expect(await inspectQueue(redis, 'emails').count()).toBe(3);
    // Every route draws on the same budget.
    const status = await app.inject({
      method: 'GET',
      url: '/v1/queues/emails/jobs/1',
      headers: bearer(SECRETS.limited),
    });
    expect(status.statusCode).toBe(429);
    expect((await enqueue(app, SECRETS.signup)).statusCode).toBe(202);
  });

  it('the configured default applies to keys without their own, counted in Redis under the prefix', async () => {
    const app = await startApp({
      config: testConfig(redis, { ...COUNTED, RATE_LIMIT_MAX: '2', RATE_LIMIT_WINDOW_MS: '1m' }),
    });
    const codes = [];
    for (let i = 0; i < 3; i++) codes.push((await enqueue(app, SECRETS.signup)).statusCode);
    expect(codes).toEqual([202, 202, 429]);
    const keys = await redis.connection().keys(`${redis.prefix}:jobfleet:rate-limit:*`);
    expect(keys).toEqual([`${redis.prefix}:jobfleet:rate-limit:signup-service`]);
    // Unauthenticated requests are refused before they cost a count.
    expect(
      (await app.inject({ method: 'POST', url: '/v1/queues/emails/jobs', payload: welcome })).statusCode,
    ).toBe(401);
  });

  it('RATE_LIMIT_COUNT_WAIT_MS: a count Redis is slow to give lets the request through uncounted after it', async () => {
    const quick = await startApp({ config: testConfig(redis, { RATE_LIMIT_COUNT_WAIT_MS: '50ms' }) });
    const patient = await startApp({ config: testConfig(redis, COUNTED) });
    const pauseWrites = () => redis.connection().call('CLIENT', 'PAUSE', '400', 'WRITE');
    // Each gateway's first request needs a lease, a write: Redis holds it (and the job's add) for 400 ms.
    await pauseWrites();
    const uncounted = await enqueue(quick, SECRETS.limited);
    expect(uncounted.statusCode).toBe(202);
    expect(uncounted.headers['x-ratelimit-limit']).toBeUndefined();
    await pauseWrites();
    const counted = await enqueue(patient, SECRETS.limited);
    expect(counted.statusCode).toBe(202);
    expect(counted.headers['x-ratelimit-limit']).toBe('3');
  });

  it('two gateways on one Redis share one budget', async () => {
    const app = await startApp({ config: testConfig(redis, COUNTED) });
    const other = await startApp({ config: testConfig(redis, COUNTED) });
    const codes = [];
    for (const gateway of [app, other, app, other])
      codes.push((await enqueue(gateway, SECRETS.limited)).statusCode);
    expect(codes).toEqual([202, 202, 202, 429]);
  });
});

describe('limits and failure behaviour', () => {
  it('BODY_LIMIT_BYTES is configurable: a body over it → 413, nothing enqueued', async () => {
    const app = await startApp({ config: testConfig(redis, { BODY_LIMIT_BYTES: '2048' }) });
    const big = { ...welcome, data: { ...welcome.data, name: 'x'.repeat(2_100) } };
    const response = await enqueue(app, SECRETS.signup, big);
    expect(response.statusCode).toBe(413);
    expect(response.json()).toMatchObject({ code: 'FST_ERR_CTP_BODY_TOO_LARGE' });
    expect(await inspectQueue(redis, 'emails').count()).toBe(0);
    expect((await enqueue(app, SECRETS.signup)).statusCode).toBe(202);
  });

  it('sheds load while the event loop lags: 503 with Retry-After; health and metrics still answer', async () => {
    const app = await startApp({
      config: testConfig(redis, {
        PRESSURE_MAX_EVENT_LOOP_DELAY_MS: '20',
        PRESSURE_SAMPLE_INTERVAL_MS: '20',
      }),
    });
    const gateway = app;
    const servedAt = async () => {
      const response = await enqueue(gateway, SECRETS.signup);
      return response.statusCode === 202 ? response : undefined;
    };
    // Building the app itself lagged the loop; once that is sampled away, requests are served.
    await eventually(servedAt);
    // Block the event loop, as a CPU-bound burst would, until a sample sees the lag.
    const shed = await eventually(async () => {
      const until = performance.now() + 120;
      while (performance.now() < until) {
        // busy
      }
      const response = await enqueue(gateway, SECRETS.signup);
      return response.statusCode === 503 ? response : undefined;
    });
    expect(shed.headers['retry-after']).toBe('1');
    expect(shed.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(shed.json()).toMatchObject({ status: 503, code: 'JOBFLEET_OVERLOADED' });
    expect((await gateway.inject({ method: 'GET', url: '/health/live' })).statusCode).toBe(200);
    expect((await gateway.inject({ method: 'GET', url: '/metrics' })).statusCode).toBe(200);
    // Once the loop is idle again, requests are served.
    expect((await eventually(servedAt)).statusCode).toBe(202);
  });

  it('sends security headers on API answers, errors included', async () => {
    const app = await startApp();
    for (const response of [
      await enqueue(app, SECRETS.signup),
      await app.inject({ method: 'GET', url: '/v1/queues/emails/jobs/1' }),
      await app.inject({ method: 'GET', url: '/nope' }),
    ]) {
      expect(response.headers['content-security-policy']).toBe("default-src 'none';frame-ancestors 'none'");
      expect(response.headers['x-content-type-options']).toBe('nosniff');
      expect(response.headers['strict-transport-security']).toMatch(/max-age=\d+/);
      expect(response.headers['x-frame-options']).toBe('DENY');
      expect(response.headers['cache-control']).toBe('no-store');
      // OWASP's list for APIs, nothing of helmet's for HTML pages.
      for (const html of [
        'referrer-policy',
        'cross-origin-resource-policy',
        'x-xss-protection',
        'origin-agent-cluster',
      ]) {
        expect(response.headers[html]).toBeUndefined();
      }
      expect(response.headers['x-powered-by']).toBeUndefined();
    }
  });
});
