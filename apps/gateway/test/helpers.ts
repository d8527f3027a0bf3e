import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createLogger, type Logger, loadConfig } from '@jobfleet/service-kit';
import { type LogLine, logSink, type TestRedis, useTestRedis } from '@jobfleet/test-utils';
import { Queue } from 'bullmq';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import type { Registry } from 'prom-client';
import { afterEach } from 'vitest';
import { buildGateway } from '../src/app.js';
import { type GatewayConfig, gatewayConfig } from '../src/config.js';

/** Secrets of the test keys; every one is at least 16 characters. */
export const SECRETS = {
  admin: 'admin-secret-0123456789',
  signup: 'signup-secret-0123456789',
  hashed: 'hashed-secret-0123456789',
  reportsOnly: 'reports-secret-0123456789',
  globexReader: 'globex-secret-0123456789',
  ops: 'ops-secret-0123456789abc',
  acmeOps: 'acme-ops-secret-0123456789',
  acmeBilling: 'acme-billing-secret-0123456789',
  limited: 'limited-secret-0123456789',
};

export const sha256Hex = (text: string) => createHash('sha256').update(text).digest('hex');

/** The test key list, in the `GATEWAY_API_KEYS` format. */
export const KEY_LIST = [
  { id: 'admin-tool', key: SECRETS.admin, scopes: ['admin'] },
  { id: 'signup-service', key: SECRETS.signup, tenant: 'acme', scopes: ['emails:enqueue', 'emails:read'] },
  { id: 'hashed-reader', keySha256: sha256Hex(SECRETS.hashed), scopes: ['*:read', 'emails:enqueue'] },
  {
    id: 'reports-only',
    key: SECRETS.reportsOnly,
    tenant: 'globex',
    scopes: ['reports:enqueue', 'reports:read'],
  },
  { id: 'globex-reader', key: SECRETS.globexReader, tenant: 'globex', scopes: ['emails:read'] },
  // A platform operator: every queue, no tenant.
  { id: 'ops', key: SECRETS.ops, scopes: ['*:read', '*:manage', '*:enqueue'] },
  { id: 'acme-ops', key: SECRETS.acmeOps, tenant: 'acme', scopes: ['*:read', '*:manage'] },
  // Another service of tenant acme: may enqueue and cancel its own jobs only.
  { id: 'acme-billing', key: SECRETS.acmeBilling, tenant: 'acme', scopes: ['emails:enqueue', 'emails:read'] },
  {
    id: 'limited',
    key: SECRETS.limited,
    scopes: ['emails:enqueue', 'emails:read'],
    rateLimit: { max: 3, timeWindowMs: 60_000 },
  },
];

export const bearer = (secret: string) => ({ authorization: `Bearer ${secret}` });

export function testConfig(redis: Pick<TestRedis, 'url' | 'prefix'>, extra: Record<string, string> = {}) {
  return loadConfig(gatewayConfig, {
    REDIS_URL: redis.url,
    JOBFLEET_PREFIX: redis.prefix,
    LOG_LEVEL: 'silent',
    GATEWAY_API_KEYS: JSON.stringify(KEY_LIST),
    // Tests send bursts; the limits tests set their own budgets.
    RATE_LIMIT_MAX: '1000000',
    // A test machine running many suites at once may stall a reply past the production default;
    // the tests of a frozen Redis set that default themselves.
    REDIS_COMMAND_TIMEOUT_MS: '5000',
    // Nor shed load when such a machine stalls the event loop for a second; the load-shedding test sets its own.
    PRESSURE_MAX_EVENT_LOOP_DELAY_MS: '0',
    ...extra,
  });
}

/** A logger whose JSON lines are kept, parsed, in `lines`. */
export function memoryLogger(level: 'info' | 'debug' = 'info'): { logger: Logger; lines: LogLine[] } {
  const { destination, lines } = logSink();
  return { logger: createLogger({ service: 'gateway-test', level, destination }), lines };
}

/** `POST /v1/queues/<queue>/jobs` as the key `secret` (anonymous without one). */
export function enqueue(
  app: FastifyInstance,
  secret?: string,
  payload: object = welcome,
  { queue = 'emails', headers = {} }: { queue?: string; headers?: Record<string, string> } = {},
): Promise<LightMyRequestResponse> {
  return app.inject({
    method: 'POST',
    url: `/v1/queues/${queue}/jobs`,
    headers: { ...(secret === undefined ? {} : bearer(secret)), ...headers },
    payload,
  });
}

/** Builds the gateway on the test's Redis and prefix, and waits for its Redis connection. */
export async function startGateway(
  redis: Pick<TestRedis, 'url' | 'prefix'>,
  options: { config?: GatewayConfig; logger?: Logger; registry?: Registry } = {},
): Promise<FastifyInstance> {
  const app = await buildGateway({ config: options.config ?? testConfig(redis), ...options });
  if (app.redis.status !== 'ready') await once(app.redis, 'ready');
  return app;
}

/**
 * A test file's Redis, and `startApp` to build a gateway on it
 * ({@link startGateway}) that is closed after the test that started it.
 */
export function useGateway() {
  const redis = useTestRedis();
  const started: FastifyInstance[] = [];
  afterEach(async () => {
    await Promise.all(started.splice(0).map((app) => app.close()));
  });
  const startApp = async (options: Parameters<typeof startGateway>[1] = {}) => {
    const app = await startGateway(redis, options);
    started.push(app);
    return app;
  };
  return { redis, startApp };
}

/** A plain BullMQ view of a queue under the test prefix, to look behind the gateway's back. */
export function inspectQueue(redis: TestRedis, name: string): Queue {
  return new Queue(name, { connection: redis.connection(), prefix: redis.prefix });
}

/** How many jobs a queue holds in any state. */
export async function jobCount(queue: Queue): Promise<number> {
  const counts = await queue.getJobCounts();
  return Object.values(counts).reduce((sum, n) => sum + n, 0);
}

export const welcome = { name: 'welcome', data: { userId: 123, to: 'ada@example.com', name: 'Ada' } };

/** A valid job of every job type of every catalog queue. */
export const EVERY_JOB = [
  { queue: 'emails', name: 'welcome', data: welcome.data },
  {
    queue: 'emails',
    name: 'password-reset',
    data: { userId: 'u-1', to: 'ada@example.com', resetUrl: 'https://example.com/reset?t=1' },
  },
  { queue: 'emails', name: 'notification', data: { to: 'ada@example.com', subject: 'Hi', text: 'Hello' } },
  { queue: 'reports', name: 'daily-report', data: { tenantId: 'acme', date: '2025-01-31', format: 'csv' } },
] as const;

/** Counts jobs of every catalog queue and every schedule: all must stay 0 after a refused request. */
export async function everythingQueued(redis: TestRedis): Promise<number> {
  let total = 0;
  for (const name of ['emails', 'reports']) {
    const queue = inspectQueue(redis, name);
    total += (await jobCount(queue)) + (await queue.getJobSchedulersCount());
  }
  return total;
}

/** Polls `probe` until it returns a value other than undefined, at most `timeoutMs`. */
export async function eventually<T>(probe: () => Promise<T | undefined>, timeoutMs = 5_000): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (let pause = 5; ; pause = Math.min(pause * 2, 100)) {
    const value = await probe();
    if (value !== undefined) return value;
    if (performance.now() > deadline) throw new Error(`not reached within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, pause));
  }
}
