import { join } from 'node:path';
import { type RedisServer, startRedisServer } from '@jobfleet/test-utils';
import { Redis } from 'ioredis';

/** Whether a Redis answers PING at `url` within a second. */
export async function redisAnswers(url: string): Promise<boolean> {
  const client = new Redis(url, {
    lazyConnect: true,
    connectTimeout: 1_000,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    enableOfflineQueue: false,
  });
  client.on('error', () => {});
  try {
    await client.connect();
    return (await client.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    client.disconnect();
  }
}

/**
 * The Redis the fleet uses: none of ours with a cluster or sentinels
 * (`distributed`); `REDIS_URL` when given; otherwise whatever answers
 * on the local port, or else a `redis-server` of our own with its data under
 * `<dataDir>/redis` (append-only file on, `noeviction`).
 */
export async function resolveRedis(options: {
  redisUrl: string | undefined;
  distributed?: boolean;
  port: number;
  dataDir: string;
  log: (line: string) => void;
}): Promise<{ url: string; server?: RedisServer }> {
  if (options.distributed) return { url: '' };
  if (options.redisUrl) return { url: options.redisUrl };
  const url = `redis://127.0.0.1:${options.port}`;
  if (await redisAnswers(url)) {
    options.log(`using the Redis already running at ${url}`);
    return { url };
  }
  const dir = join(options.dataDir, 'redis');
  const { mkdirSync } = await import('node:fs');
  mkdirSync(dir, { recursive: true });
  options.log(`nothing answers at ${url}: starting redis-server there (data in ${dir})`);
  const server = await startRedisServer({ port: options.port, dir, appendOnly: true });
  return { url: server.url, server };
}
