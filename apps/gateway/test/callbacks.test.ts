import { CALLBACK_OPTION, webhookDeliveryId } from '@jobfleet/queue-contracts';
import { generateWebhookSecret } from '@jobfleet/service-kit';
import type { FastifyInstance } from 'fastify';
import { describe, expect, it } from 'vitest';
import { callbackUrlProblem } from '../src/callbacks.js';
import {
  bearer,
  everythingQueued,
  inspectQueue,
  KEY_LIST,
  SECRETS,
  testConfig,
  useGateway,
  welcome,
} from './helpers.js';

const { redis, startApp } = useGateway();

/** The test keys, `signup-service` with a webhook secret. */
const keysWithSecret = JSON.stringify(
  KEY_LIST.map((key) =>
    key.id === 'signup-service' ? { ...key, webhookSecret: generateWebhookSecret() } : key,
  ),
);

const start = (extra: Record<string, string> = {}) =>
  startApp({ config: testConfig(redis, { GATEWAY_API_KEYS: keysWithSecret, ...extra }) });

const withCallback = (url: string) => ({ ...welcome, options: { callback: { url } } });

const post = (app: FastifyInstance, secret: string, payload: object, path = '/v1/queues/emails/jobs') =>
  app.inject({ method: 'POST', url: path, headers: bearer(secret), payload });

function expectProblem(response: Awaited<ReturnType<typeof post>>, code: string, path: string) {
  expect(response?.statusCode).toBe(400);
  expect(response?.headers['content-type']).toMatch(/^application\/problem\+json/);
  const problem = response?.json<{ code: string; detail: string; errors: { path: string }[] }>();
  expect(problem?.code).toBe(code);
  expect(problem?.errors.map((e) => e.path)).toEqual([path]);
  return problem;
}

describe('options.callback at enqueue', () => {
  it('is stored with the job, outside its payload and its shown options', async () => {
    const app = await start();
    const response = await post(app, SECRETS.signup, withCallback('https://hooks.example.com/jobfleet'));
    expect(response?.statusCode).toBe(202);
    const id = response?.json<{ id: string }>().id ?? '';
    const job = await inspectQueue(redis, 'emails').getJob(id);
    expect((job?.opts as Record<string, unknown> | undefined)?.[CALLBACK_OPTION]).toEqual({
      url: 'https://hooks.example.com/jobfleet',
    });
    expect(job?.opts).not.toHaveProperty('callback');
    expect(job?.data).toEqual(welcome.data);
  });

  it('refuses a literal private, loopback or link-local address, and a URL that is not http(s), with nothing queued', async () => {
    const app = await start();
    for (const url of [
      'http://127.0.0.1:8080/hook',
      'http://10.0.0.5/hook',
      'http://[::1]/hook',
      'http://[::ffff:169.254.169.254]/latest',
      'http://0.0.0.0/',
      'https://192.168.1.10/hook',
    ]) {
      const problem = expectProblem(
        await post(app, SECRETS.signup, withCallback(url)),
        'JOBFLEET_CALLBACK_URL_REFUSED',
        '/options/callback/url',
      );
      expect(problem?.detail).toMatch(/address; callbacks go to public addresses only/);
    }
    const ftp = expectProblem(
      await post(app, SECRETS.signup, withCallback('ftp://example.com/x')),
      'JOBFLEET_CALLBACK_URL_REFUSED',
      '/options/callback/url',
    );
    expect(ftp?.detail).toContain('must be an http or https URL, not ftp');
    expect(await everythingQueued(redis)).toBe(0);
  });

  it('refuses a callback from a key without a webhookSecret, naming the job of a batch', async () => {
    const app = await start();
    const problem = expectProblem(
      await post(
        app,
        SECRETS.ops,
        { jobs: [welcome, withCallback('https://hooks.example.com/x')] },
        '/v1/queues/emails/jobs/batch',
      ),
      'JOBFLEET_CALLBACK_UNSIGNABLE',
      '/jobs/1/options/callback/url',
    );
    expect(problem?.detail).toContain('API key "ops" has no webhookSecret');
    expect(await everythingQueued(redis)).toBe(0);
  });

  it('accepts private addresses with WEBHOOK_ALLOW_PRIVATE_NETWORKS=true', async () => {
    const app = await start({ WEBHOOK_ALLOW_PRIVATE_NETWORKS: 'true' });
    expect((await post(app, SECRETS.signup, withCallback('http://127.0.0.1:9/hook')))?.statusCode).toBe(202);
  });

  it('announces the cancellation of a removed queued job as a webhook delivery', async () => {
    const app = await start();
    const response = await post(app, SECRETS.signup, {
      ...withCallback('https://hooks.example.com/x'),
      options: { delay: 60_000, callback: { url: 'https://hooks.example.com/x' } },
    });
    const id = response?.json<{ id: string }>().id ?? '';
    const cancelled = await app.inject({
      method: 'DELETE',
      url: `/v1/queues/emails/jobs/${id}`,
      headers: bearer(SECRETS.signup),
    });
    expect(cancelled.statusCode).toBe(204);
    const delivery = await inspectQueue(redis, 'webhooks').getJob(
      webhookDeliveryId('emails', id, 'job.cancelled'),
    );
    expect(delivery?.data).toMatchObject({
      url: 'https://hooks.example.com/x',
      event: {
        type: 'job.cancelled',
        data: { queue: 'emails', id, name: 'welcome', failedReason: 'cancelled on request' },
      },
    });
    expect(delivery?.opts).toMatchObject({ jobfleet: { client: 'signup-service', tenant: 'acme' } });
  });
});

describe('callbackUrlProblem', () => {
  it('leaves host names to the check after resolution', () => {
    expect(callbackUrlProblem('https://localhost/hook', false)).toBeUndefined();
    expect(callbackUrlProblem('https://example.com/hook', false)).toBeUndefined();
    expect(callbackUrlProblem('http://2130706433/', false)).toMatch(/^127\.0\.0\.1 is a loopback address/);
  });
});

describe('webhookSecret in the API key list', () => {
  it('must be a Standard Webhooks secret, and is not kept by the gateway', async () => {
    const { parseApiKeys } = await import('../src/api-keys.js');
    const entry = { id: 'shop', key: 'shop-secret-0123456789', scopes: ['emails:enqueue'] };
    expect(() => parseApiKeys(JSON.stringify([{ ...entry, webhookSecret: 'not-a-secret' }]))).toThrow(
      /entry 0 \(id "shop"\): \/webhookSecret must be whsec_/,
    );
    const [key] = parseApiKeys(JSON.stringify([{ ...entry, webhookSecret: generateWebhookSecret() }]));
    expect(key?.signsWebhooks).toBe(true);
    expect(JSON.stringify(key)).not.toContain('whsec_');
  });
});
