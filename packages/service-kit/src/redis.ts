import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from 'pino';

/**
 * `producer`: commands fail at once while Redis is unreachable (no offline
 * queue, one retry), so an HTTP edge can answer 503 instead of hanging.
 * `worker`: commands wait for Redis to come back (`maxRetriesPerRequest: null`),
 * as BullMQ workers require.
 */
export type RedisFlavour = 'producer' | 'worker';

export interface RedisConnectionOptions {
  url: string;
  flavour: RedisFlavour;
  /** Shown in `CLIENT LIST`, to tell the fleet's connections apart. */
  name?: string;
  logger?: Logger;
  /** Upper bound for one reconnect delay. */
  maxReconnectDelayMs?: number;
  /** `producer` only: how long a command may wait for its reply before it fails (default 5 s). */
  commandTimeoutMs?: number;
}

/** Opens an ioredis connection of the given flavour; `rediss://` URLs use TLS. */
export function createRedisConnection(options: RedisConnectionOptions): Redis {
  const { url, flavour, name, logger, maxReconnectDelayMs = 2_000, commandTimeoutMs = 5_000 } = options;
  const common: RedisOptions = {
    connectionName: name,
    connectTimeout: 5_000,
    // Keep reconnecting forever: the process recovers by itself when Redis is back.
    retryStrategy: (times) => Math.min(50 * 2 ** Math.min(times, 10), maxReconnectDelayMs),
  };
  const flavoured: RedisOptions =
    flavour === 'producer'
      ? { enableOfflineQueue: false, maxRetriesPerRequest: 1, commandTimeout: commandTimeoutMs }
      : { enableOfflineQueue: true, maxRetriesPerRequest: null };
  const client = new Redis(url, { ...common, ...flavoured });
  if (logger) {
    let down = false;
    client.on('error', (error: Error) => {
      if (!down) logger.error({ err: error, redis: redactUrl(url) }, 'redis connection error');
      down = true;
    });
    client.on('ready', () => {
      if (down) logger.info({ redis: redactUrl(url) }, 'redis connection restored');
      down = false;
    });
  } else {
    // An 'error' event without a listener would crash the process.
    client.on('error', () => {});
  }
  return client;
}

/** The URL without its password, for logs. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '<invalid url>';
  }
}

export interface EvictionPolicyCheck {
  ok: boolean;
  policy: string | undefined;
}

/**
 * BullMQ loses jobs when Redis evicts keys, so anything but `noeviction` is a
 * misconfiguration. Reads `INFO memory`, which works where `CONFIG` is disabled.
 */
export async function checkEvictionPolicy(client: Redis): Promise<EvictionPolicyCheck> {
  const info = await client.info('memory');
  const policy = /^maxmemory_policy:(\S+)/m.exec(info)?.[1];
  return { ok: policy === 'noeviction', policy };
}

/** Resolves once the connection is ready (immediately if it already is); rejects after `timeoutMs`. */
export function waitUntilConnected(client: Redis, timeoutMs = 10_000): Promise<void> {
  if (client.status === 'ready') return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      client.off('ready', onReady);
      reject(new Error(`redis not ready after ${timeoutMs} ms (status ${client.status})`));
    }, timeoutMs);
    const onReady = () => {
      clearTimeout(timer);
      resolve();
    };
    client.once('ready', onReady);
  });
}
