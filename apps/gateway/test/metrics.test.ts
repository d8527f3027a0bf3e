import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { catalog } from '@jobfleet/queue-contracts';
import { useTestRedis } from '@jobfleet/test-utils';
import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { bearer, enqueue, inspectQueue, SECRETS, startGateway, testConfig, welcome } from './helpers.js';

const redis = useTestRedis();
let app: FastifyInstance | undefined;

afterEach(async () => {
  await app?.close();
  app = undefined;
});

const PROMTOOL = process.env.PROMTOOL_BIN ?? '/usr/bin/promtool';

/** A little traffic of every kind, so every metric has samples. */
async function traffic(gateway: FastifyInstance) {
  const accepted = await enqueue(gateway, SECRETS.signup);
  await enqueue(gateway, SECRETS.signup);
  await enqueue(gateway, SECRETS.signup, { name: 'welcome', data: { userId: 1, to: 'nope' } });
  await enqueue(gateway, SECRETS.reportsOnly);
  await enqueue(gateway);
  await gateway.inject({
    method: 'GET',
    url: `/v1/queues/emails/jobs/${accepted.json<{ id: string }>().id}`,
    headers: bearer(SECRETS.signup),
  });
  await gateway.inject({ method: 'GET', url: '/some/random/path?x=1' });
}

/** Catalog queues: the gateway reads each one's depth. */
const QUEUES = Object.keys(catalog).length;

describe('/metrics and /health', () => {
  it('exports the gateway metrics with closed label sets', async () => {
    app = await startGateway(redis);
    await traffic(app);
    const response = await app.inject({ method: 'GET', url: '/metrics' });
    expect(response.statusCode).toBe(200);
    const text = response.body;
    expect(text).toContain(
      'jobfleet_jobs_enqueued_total{queue="emails",job_name="welcome",client="signup-service",result="accepted"} 2',
    );
    expect(text).toContain(
      'jobfleet_jobs_enqueued_total{queue="emails",job_name="welcome",client="signup-service",result="rejected"} 1',
    );
    expect(text).toContain(
      'jobfleet_jobs_enqueued_total{queue="emails",job_name="unknown",client="reports-only",result="rejected"} 1',
    );
    expect(text).toMatch(
      /jobfleet_http_request_duration_seconds_count\{method="POST",route="\/v1\/queues\/emails\/jobs",status_code="202"\} 2/,
    );
    expect(text).toMatch(/route="\/v1\/queues\/:queue\/jobs\/:id",status_code="200"/);
    expect(text).toMatch(/route="unmatched",status_code="404"/);
    // Never a raw URL, a job id or a query string as a label value.
    expect(text).not.toMatch(/route="\/v1\/queues\/emails\/jobs\/\d/);
    expect(text).not.toContain('/some/random/path');
    expect(text).toContain('process_cpu_seconds_total');
  });

  it('leaves /health/* and /metrics out of the request duration histogram', async () => {
    app = await startGateway(redis);
    for (const url of ['/health/live', '/health/ready', '/metrics', '/health/live']) {
      expect((await app.inject({ method: 'GET', url })).statusCode, url).toBe(200);
    }
    await app.inject({ method: 'GET', url: '/v1/queues', headers: bearer(SECRETS.ops) });
    const text = (await app.inject({ method: 'GET', url: '/metrics' })).body;
    const routes = new Set(
      [...text.matchAll(/^jobfleet_http_request_duration_seconds_count\{[^}]*route="([^"]*)"/gm)].map(
        (m) => m[1],
      ),
    );
    expect([...routes]).toEqual(['/v1/queues']);
  });

  it('passes promtool check metrics without a warning', async (context) => {
    if (!existsSync(PROMTOOL)) {
      context.skip(`promtool not found at ${PROMTOOL} (apt-get install prometheus, or set PROMTOOL_BIN)`);
      return;
    }
    app = await startGateway(redis);
    await traffic(app);
    const text = (await app.inject({ method: 'GET', url: '/metrics' })).body;
    const result = spawnSync(PROMTOOL, ['check', 'metrics'], { input: text, encoding: 'utf8' });
    expect(result.stdout + result.stderr).toBe('');
    expect(result.status).toBe(0);
  });

  it('exports queue depth per state and the oldest waiting age, read at scrape time with a short cache', async () => {
    app = await startGateway(redis, { config: testConfig(redis, { QUEUE_METRICS_CACHE_MS: '60000' }) });
    const emails = inspectQueue(redis, 'emails');
    await emails.add('welcome', welcome.data, { timestamp: Date.now() - 42_000 });
    await emails.add('welcome', welcome.data);
    await emails.add('welcome', welcome.data, { delay: 60_000 });
    await emails.add('welcome', welcome.data, { priority: 2 });

    const commands = vi.spyOn(app.redis, 'sendCommand');
    const text = (await app.inject({ method: 'GET', url: '/metrics' })).body;
    // Two calls per queue (counts; oldest waiting job), whatever the queue holds.
    expect(commands.mock.calls.length).toBeLessThanOrEqual(2 * QUEUES);
    expect(text).toContain('jobfleet_queue_jobs{queue="emails",state="waiting"} 2');
    expect(text).toContain('jobfleet_queue_jobs{queue="emails",state="delayed"} 1');
    expect(text).toContain('jobfleet_queue_jobs{queue="emails",state="prioritized"} 1');
    expect(text).toContain('jobfleet_queue_jobs{queue="reports",state="waiting"} 0');
    expect(text).toContain('jobfleet_queue_jobs{queue="emails",state="failed"} 0');
    const oldest = Number(/jobfleet_queue_oldest_waiting_seconds\{queue="emails"\} (\S+)/.exec(text)?.[1]);
    expect(oldest).toBeGreaterThanOrEqual(42);
    expect(oldest).toBeLessThan(60);
    expect(text).toContain('jobfleet_queue_oldest_waiting_seconds{queue="reports"} 0');

    // Within the cache time, scrapes cost Redis nothing and show the cached values.
    commands.mockClear();
    await emails.add('welcome', welcome.data);
    const cached = (await app.inject({ method: 'GET', url: '/metrics' })).body;
    expect(commands).not.toHaveBeenCalled();
    expect(cached).toContain('jobfleet_queue_jobs{queue="emails",state="waiting"} 2');
  });

  it('refreshes the queue gauges after the cache time; concurrent scrapes share one read', async () => {
    app = await startGateway(redis, { config: testConfig(redis, { QUEUE_METRICS_CACHE_MS: '0' }) });
    const gateway = app;
    await inspectQueue(redis, 'reports').add('daily-report', { tenantId: 'acme' });
    const commands = vi.spyOn(gateway.redis, 'sendCommand');
    const scrapes = await Promise.all(
      Array.from({ length: 5 }, () => gateway.inject({ method: 'GET', url: '/metrics' })),
    );
    expect(commands.mock.calls.length).toBeLessThanOrEqual(2 * 2 * QUEUES);
    for (const scrape of scrapes) {
      expect(scrape.body).toContain('jobfleet_queue_jobs{queue="reports",state="waiting"} 1');
    }
    await inspectQueue(redis, 'reports').add('daily-report', { tenantId: 'acme' });
    const later = (await gateway.inject({ method: 'GET', url: '/metrics' })).body;
    expect(later).toContain('jobfleet_queue_jobs{queue="reports",state="waiting"} 2');
  });

  it('counts batch jobs and replays by job name and result', async () => {
    app = await startGateway(redis);
    const batch = {
      jobs: [welcome, welcome, { name: 'notification', data: { to: 'a@b.co', subject: 's', text: 't' } }],
    };
    const send = () =>
      app?.inject({
        method: 'POST',
        url: '/v1/queues/emails/jobs/batch',
        headers: { ...bearer(SECRETS.signup), 'idempotency-key': 'b-1' },
        payload: batch,
      });
    expect((await send())?.statusCode).toBe(202);
    expect((await send())?.statusCode).toBe(200);
    await app.inject({
      method: 'POST',
      url: '/v1/queues/emails/jobs/batch',
      headers: bearer(SECRETS.signup),
      payload: { jobs: [welcome, { name: 'nope', data: {} }] },
    });
    const text = (await app.inject({ method: 'GET', url: '/metrics' })).body;
    const line = (job: string, result: string) =>
      `jobfleet_jobs_enqueued_total{queue="emails",job_name="${job}",client="signup-service",result="${result}"}`;
    expect(text).toContain(`${line('welcome', 'accepted')} 2`);
    expect(text).toContain(`${line('notification', 'accepted')} 1`);
    expect(text).toContain(`${line('welcome', 'duplicate')} 2`);
    expect(text).toContain(`${line('welcome', 'rejected')} 1`);
    expect(text).toContain(`${line('unknown', 'rejected')} 1`);
  });

  it('answers /health/* and /metrics without an API key; METRICS_TOKEN guards /metrics', async () => {
    app = await startGateway(redis, { config: testConfig(redis, { METRICS_TOKEN: 'scrape-token-123' }) });
    expect((await app.inject({ method: 'GET', url: '/health/live' })).statusCode).toBe(200);
    const ready = await app.inject({ method: 'GET', url: '/health/ready' });
    expect(ready.statusCode).toBe(200);
    expect(ready.json()).toMatchObject({ status: 'ok', checks: [{ name: 'redis', ok: true }] });
    expect((await app.inject({ method: 'GET', url: '/metrics' })).statusCode).toBe(401);
    const scraped = await app.inject({
      method: 'GET',
      url: '/metrics',
      headers: { authorization: 'Bearer scrape-token-123' },
    });
    expect(scraped.statusCode).toBe(200);
  });
});
