import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { Writable } from 'node:stream';
import { createLogger, type Logger, loadConfig } from '@jobfleet/service-kit';
import type { TestRedis } from '@jobfleet/test-utils';
import { Queue } from 'bullmq';
import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import { buildGateway, type GatewayConfig, gatewayConfig } from '../src/index.js';

/** Secrets of the test keys; every one is at least 16 characters. */
export const SECRETS = {
  admin: 'admin-secret-0123456789',
  signup: 'signup-secret-0123456789',
  hashed: 'hashed-secret-0123456789',
  reportsOnly: 'reports-secret-0123456789',
  globexReader: 'globex-secret-0123456789',
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
];

export const bearer = (secret: string) => ({ authorization: `Bearer ${secret}` });

export function testConfig(redis: Pick<TestRedis, 'url' | 'prefix'>, extra: Record<string, string> = {}) {
  return loadConfig(gatewayConfig, {
    REDIS_URL: redis.url,
    JOBFLEET_PREFIX: redis.prefix,
    LOG_LEVEL: 'silent',
    GATEWAY_API_KEYS: JSON.stringify(KEY_LIST),
    ...extra,
  });
}

/** A logger whose JSON lines are kept in `lines`. */
export function memoryLogger(level: 'info' | 'debug' = 'info'): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(...chunk.toString().split('\n').filter(Boolean));
      done();
    },
  });
  return { logger: createLogger({ service: 'gateway-test', level, destination }), lines };
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
