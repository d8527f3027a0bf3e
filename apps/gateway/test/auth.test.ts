import { ORIGIN_OPTION, originOf } from '@jobfleet/queue-contracts';
import { describe, expect, it } from 'vitest';
import {
  bearer,
  enqueue,
  inspectQueue,
  memoryLogger,
  SECRETS,
  testConfig,
  useGateway,
  welcome,
} from './helpers.js';

const { redis, startApp } = useGateway();

describe('API keys', () => {
  it('accepts a keySha256 key', async () => {
    const app = await startApp();
    const response = await enqueue(app, SECRETS.hashed);
    expect(response.statusCode).toBe(202);
    const job = await inspectQueue(redis, 'emails').getJob(response.json<{ id: string }>().id);
    expect(originOf(job ?? { opts: {} })).toEqual({ client: 'hashed-reader' });
  });

  it("records the key's id and tenant on the job, outside its payload, in Redis", async () => {
    const app = await startApp();
    const response = await enqueue(app, SECRETS.signup);
    const { id } = response.json<{ id: string }>();
    const job = await inspectQueue(redis, 'emails').getJob(id);
    expect(job?.data).toEqual(welcome.data);
    expect(originOf(job ?? { opts: {} })).toEqual({ client: 'signup-service', tenant: 'acme' });
    // Stored, not just held in memory: the job hash's options carry it.
    const stored = await redis.connection().hget(`${redis.prefix}:emails:${id}`, 'opts');
    expect(JSON.parse(stored ?? '{}')[ORIGIN_OPTION]).toEqual({ client: 'signup-service', tenant: 'acme' });
  });

  it('needs <queue>:read for the status, and hides jobs of another tenant', async () => {
    const app = await startApp();
    const { id } = (await enqueue(app, SECRETS.signup)).json<{ id: string }>();
    const read = (secret: string) =>
      app.inject({ method: 'GET', url: `/v1/queues/emails/jobs/${id}`, headers: bearer(secret) });
    expect((await read(SECRETS.signup))?.statusCode).toBe(200);
    expect((await read(SECRETS.hashed))?.statusCode).toBe(200); // *:read, no tenant
    expect((await read(SECRETS.admin))?.statusCode).toBe(200);
    expect((await read(SECRETS.reportsOnly))?.statusCode).toBe(403); // reports scopes only
    const otherTenant = await read(SECRETS.globexReader);
    expect(otherTenant?.statusCode).toBe(404);
    expect(otherTenant?.json()).toMatchObject({ code: 'JOBFLEET_JOB_NOT_FOUND' });
    const anonymous = await app.inject({ method: 'GET', url: `/v1/queues/emails/jobs/${id}` });
    expect(anonymous?.statusCode).toBe(401);
  });

  it('scopes a key to its queues', async () => {
    const app = await startApp();
    const refused = await enqueue(app, SECRETS.reportsOnly);
    expect(refused.statusCode).toBe(403);
    expect(refused.headers['www-authenticate']).toBe(
      'Bearer realm="jobfleet", error="insufficient_scope", scope="emails:enqueue"',
    );
    expect((await enqueue(app, SECRETS.ops)).statusCode).toBe(202); // *:enqueue
    const report = { name: 'daily-report', data: { tenantId: 'globex' } };
    expect((await enqueue(app, SECRETS.reportsOnly, report, { queue: 'reports' })).statusCode).toBe(202);
    expect((await enqueue(app, SECRETS.signup, report, { queue: 'reports' })).statusCode).toBe(403);
    expect((await enqueue(app, SECRETS.admin, report, { queue: 'reports' })).statusCode).toBe(202);
  });

  it('never logs a secret, even at debug level', async () => {
    const { logger, lines } = memoryLogger('debug');
    const app = await startApp({ logger });
    await enqueue(app, SECRETS.signup);
    await enqueue(app, 'a-wrong-secret-that-is-long-enough');
    await enqueue(app, SECRETS.reportsOnly);
    const log = JSON.stringify(lines);
    expect(lines.length).toBeGreaterThan(0);
    for (const secret of [...Object.values(SECRETS), 'a-wrong-secret-that-is-long-enough']) {
      expect(log).not.toContain(secret);
    }
  });

  it('GATEWAY_AUTH=disabled: starts without keys, warns, and lets anonymous requests through', async () => {
    const { logger, lines } = memoryLogger();
    const config = testConfig(redis, { GATEWAY_API_KEYS: '', GATEWAY_AUTH: 'disabled' });
    const app = await startApp({ config, logger });
    expect(lines.some((l) => l.level === 40 && l.msg?.includes('GATEWAY_AUTH=disabled'))).toBe(true);
    const response = await enqueue(app);
    expect(response.statusCode).toBe(202);
    const job = await inspectQueue(redis, 'emails').getJob(response.json<{ id: string }>().id);
    expect(originOf(job ?? { opts: {} })).toEqual({ client: 'anonymous' });
  });
});
