import { Socket } from 'node:net';
import type { ConnectionOptions as TlsOptions } from 'node:tls';
import { Cluster, type ClusterOptions, Redis, type RedisOptions } from 'ioredis';
import type { Logger } from 'pino';
import type { HostPort } from './config.js';

/** A connection to any of the Redis topologies jobfleet runs on. */
export type RedisClient = Redis | Cluster;

/** Credentials and TLS, the same for every topology. */
export interface RedisAuth {
  username?: string | undefined;
  password?: string | undefined;
  /** TLS on, with these CAs when given (else the system roots). */
  tls?: { ca?: string | undefined } | undefined;
}

/** Where Redis is: what `REDIS_URL`, `REDIS_CLUSTER_NODES` or `REDIS_SENTINELS` chose. */
export type RedisTopology =
  | ({ kind: 'standalone'; url: string } & RedisAuth)
  | ({ kind: 'cluster'; nodes: HostPort[] } & RedisAuth)
  | ({
      kind: 'sentinel';
      sentinels: HostPort[];
      name: string;
      sentinelPassword?: string | undefined;
    } & RedisAuth);

/** The common configuration's Redis keys, as `loadConfig` returns them. */
export interface RedisConfig {
  redisUrl: string;
  redisClusterNodes?: HostPort[] | undefined;
  redisSentinels?: HostPort[] | undefined;
  redisSentinelName?: string | undefined;
  redisSentinelPassword?: string | undefined;
  redisUsername?: string | undefined;
  redisPassword?: string | undefined;
  redisPasswordFile?: string | undefined;
  redisTls?: boolean | undefined;
  redisTlsCaFile?: string | undefined;
}

/** The topology the configuration selects (its combinations were checked by `loadConfig`). */
export function redisTopology(config: RedisConfig): RedisTopology {
  const auth: RedisAuth = {
    username: config.redisUsername,
    password: config.redisPassword ?? config.redisPasswordFile,
    tls: config.redisTls || config.redisTlsCaFile ? { ca: config.redisTlsCaFile } : undefined,
  };
  if (config.redisClusterNodes) return { kind: 'cluster', nodes: config.redisClusterNodes, ...auth };
  if (config.redisSentinels) {
    return {
      kind: 'sentinel',
      sentinels: config.redisSentinels,
      name: config.redisSentinelName ?? '',
      sentinelPassword: config.redisSentinelPassword,
      ...auth,
    };
  }
  return { kind: 'standalone', url: config.redisUrl, ...auth };
}

/** Where a topology points, without secrets, for logs and banners. */
export function describeRedis(target: RedisTopology | string): string {
  const topology = typeof target === 'string' ? ({ kind: 'standalone', url: target } as const) : target;
  const list = (nodes: HostPort[]) => nodes.map(({ host, port }) => `${host}:${port}`).join(',');
  switch (topology.kind) {
    case 'standalone':
      return redactUrl(topology.url);
    case 'cluster':
      return `cluster ${list(topology.nodes)}${topology.tls ? ' (tls)' : ''}`;
    case 'sentinel':
      return `sentinel ${topology.name}@${list(topology.sentinels)}${topology.tls ? ' (tls)' : ''}`;
  }
}

/**
 * `producer`: commands fail at once while Redis is unreachable (no offline
 * queue, one retry; none sent again after a reconnect), so an HTTP edge can
 * answer 503 instead of hanging.
 * `worker`: commands wait for Redis to come back (`maxRetriesPerRequest: null`),
 * as BullMQ workers require.
 */
export type RedisFlavour = 'producer' | 'worker';

export interface RedisConnectionOptions {
  /** The topology, or a standalone Redis URL. */
  redis?: RedisTopology | string;
  /** A standalone Redis URL (`redis` wins when both are given). */
  url?: string;
  flavour: RedisFlavour;
  /** Shown in `CLIENT LIST`, to tell the fleet's connections apart. */
  name?: string;
  logger?: Logger;
  /** Upper bound for one reconnect delay. */
  maxReconnectDelayMs?: number;
  /** `producer` only: how long a command may wait for its reply before it fails (default 5 s). */
  commandTimeoutMs?: number;
  /**
   * Send the first command written in a turn of the event loop at once, and
   * hold the ones after it until the turn ends (`setImmediate`), to go out in
   * one write: a server whose concurrent requests (or a worker whose concurrent
   * jobs) each send a command then makes a few syscalls per turn instead of one
   * per command, and Redis reads them in one go. ioredis's auto-pipelining does
   * not help there: it flushes per tick, and each request is its own tick.
   * Costs a held command at most the rest of the turn.
   */
  coalesceWrites?: boolean;
}

/**
 * Opens a connection of the given flavour to the topology: an ioredis
 * `Cluster` for Redis Cluster (it follows `MOVED`/`ASK` and retries
 * `TRYAGAIN`/`CLUSTERDOWN`), a sentinel-aware `Redis` that finds the current
 * master, or a plain `Redis` (`rediss://` URLs use TLS).
 */
export function createRedisConnection(
  options: RedisConnectionOptions & { redis?: string; url: string },
): Redis;
export function createRedisConnection(options: RedisConnectionOptions): RedisClient;
export function createRedisConnection(options: RedisConnectionOptions): RedisClient {
  const { flavour, name, logger, maxReconnectDelayMs = 2_000, commandTimeoutMs = 5_000 } = options;
  const target = options.redis ?? options.url;
  if (target === undefined) throw new Error('createRedisConnection: give `redis` (or `url`)');
  const topology: RedisTopology = typeof target === 'string' ? { kind: 'standalone', url: target } : target;
  // Keep reconnecting forever: the process recovers by itself when Redis is back.
  const retryStrategy = (times: number) => Math.min(50 * 2 ** Math.min(times, 10), maxReconnectDelayMs);
  const tls: TlsOptions | undefined = topology.tls
    ? topology.tls.ca
      ? { ca: topology.tls.ca }
      : {}
    : undefined;
  const node: RedisOptions = {
    connectionName: name,
    connectTimeout: 5_000,
    ...(topology.username === undefined ? {} : { username: topology.username }),
    ...(topology.password === undefined ? {} : { password: topology.password }),
    ...(tls ? { tls } : {}),
    ...(flavour === 'producer'
      ? {
          maxRetriesPerRequest: 1,
          commandTimeout: commandTimeoutMs,
          // A command cut off by a broken connection was already answered for (503/504): sent again
          // after the reconnect, it would act long after its request ended (an idempotency claim
          // nobody releases, a write the client was told may not exist).
          autoResendUnfulfilledCommands: false,
        }
      : { maxRetriesPerRequest: null }),
  };
  const offlineQueue = flavour === 'worker';
  let client: RedisClient;
  switch (topology.kind) {
    case 'standalone':
      client = new Redis(topology.url, { ...node, retryStrategy, enableOfflineQueue: offlineQueue });
      break;
    case 'sentinel':
      client = new Redis({
        ...node,
        retryStrategy,
        enableOfflineQueue: offlineQueue,
        sentinels: topology.sentinels,
        name: topology.name,
        ...(topology.sentinelPassword === undefined ? {} : { sentinelPassword: topology.sentinelPassword }),
        ...(tls ? { enableTLSForSentinelMode: true, sentinelTLS: tls } : {}),
        sentinelRetryStrategy: retryStrategy,
        // Leave the old master as soon as the sentinels announce `+switch-master`: until they demote it, it still
        // takes writes that its resync from the new master then throws away.
        failoverDetector: true,
        // A demoted master answers READONLY until the sentinels' reconfiguration drops the connection; reconnect at once.
        reconnectOnError: (error) => (error.message.startsWith('READONLY') ? 2 : false),
      });
      break;
    case 'cluster': {
      const clusterOptions: ClusterOptions = {
        redisOptions: node,
        clusterRetryStrategy: retryStrategy,
        enableOfflineQueue: offlineQueue,
        scaleReads: 'master',
        maxRedirections: 16,
        retryDelayOnMoved: 0,
        retryDelayOnTryAgain: 100,
        retryDelayOnClusterDown: 100,
        slotsRefreshTimeout: 2_000,
        // TLS certificates name the nodes' hostnames, which the cluster reports as IPs otherwise.
        ...(tls ? { dnsLookup: (address, callback) => callback(null, address) } : {}),
      };
      client = new Cluster(topology.nodes, clusterOptions);
      break;
    }
  }
  if (options.coalesceWrites) coalesceWrites(client);
  const where = describeRedis(topology);
  if (logger) {
    let down = false;
    client.on('error', (error: Error) => {
      if (!down) logger.error({ err: error, redis: where }, 'redis connection error');
      down = true;
    });
    client.on('ready', () => {
      if (down) logger.info({ redis: where }, 'redis connection restored');
      down = false;
    });
  } else {
    // An 'error' event without a listener would crash the process.
    client.on('error', () => {});
  }
  return client;
}

const COALESCED = Symbol('jobfleet.coalesceWrites');

/**
 * {@link RedisConnectionOptions.coalesceWrites} for a connection opened
 * without it: its socket now (if connected) and every later one (each node's,
 * on a cluster) are corked per turn. Applying it twice changes nothing.
 */
export function coalesceWrites(client: RedisClient): void {
  const marked = client as RedisClient & { [COALESCED]?: true };
  if (marked[COALESCED]) return;
  marked[COALESCED] = true;
  const corkStream = (connection: Redis) => {
    const stream = (connection as unknown as { stream?: Socket }).stream;
    if (stream instanceof Socket) corkPerTurn(stream);
  };
  const cork = (connection: Redis) => {
    if (connection.status === 'connect' || connection.status === 'ready') corkStream(connection);
    connection.on('connect', () => corkStream(connection));
  };
  if (client instanceof Cluster) {
    for (const node of client.nodes()) cork(node);
    client.on('+node', cork);
  } else cork(client);
}

function corkPerTurn(stream: Socket & { [COALESCED]?: true }): void {
  if (stream[COALESCED]) return;
  stream[COALESCED] = true;
  const write = stream.write;
  // The first write of a turn goes out at once: a lone command (one job at a time) waits for nothing.
  // Those after it in the same turn are held and go out together when the turn ends.
  let inTurn = false;
  let corked = false;
  const endTurn = () => {
    inTurn = false;
    if (corked) {
      corked = false;
      stream.uncork();
    }
  };
  stream.write = function (this: Socket, ...args: Parameters<Socket['write']>) {
    if (!inTurn) {
      inTurn = true;
      setImmediate(endTurn);
    } else if (!corked) {
      corked = true;
      this.cork();
    }
    return write.apply(this, args as never);
  } as Socket['write'];
}

/**
 * A new connection to the same Redis as `client`, of the worker flavour
 * (offline queue, no command timeout, `maxRetriesPerRequest: null`): what
 * BullMQ's blocking readers need beside a producer connection.
 */
export function duplicateForBlocking(client: RedisClient, name: string): RedisClient {
  const blocking = {
    connectionName: name,
    enableOfflineQueue: true,
    maxRetriesPerRequest: null,
    commandTimeout: undefined,
  } satisfies RedisOptions;
  if (client instanceof Cluster) {
    return client.duplicate(undefined, {
      enableOfflineQueue: true,
      redisOptions: { ...client.options.redisOptions, ...blocking },
    });
  }
  return client.duplicate(blocking);
}

/**
 * Closes a connection politely (`QUIT`, so replies in flight arrive), then for
 * good: a sentinel client's `quit` leaves its sockets to the sentinels open,
 * which would keep the process alive after shutdown.
 */
export async function closeRedis(client: RedisClient): Promise<void> {
  await client.quit().catch(() => {});
  client.disconnect();
}

/** Whether a connection talks to Redis Cluster. */
export function isCluster(client: { isCluster: boolean }): boolean {
  return client.isCluster;
}

/**
 * The BullMQ `prefix` of one queue's keys. Standalone and Sentinel: the fleet
 * prefix as it always was (`jobfleet:<queue>:…`), so upgrading orphans nothing.
 * Cluster: `{<prefix>:<queue>}`, one hash tag per queue, so a queue's keys (and
 * jobfleet's own keys beside them) share one slot and different queues spread
 * over the masters.
 */
export function queuePrefix(client: { isCluster: boolean }, prefix: string, queue: string): string {
  return client.isCluster ? `{${prefix}:${queue}}` : prefix;
}

/**
 * The start of every key of one queue, BullMQ's and jobfleet's own beside
 * them (`<queuePrefix>:<queue>`): `jobfleet:emails` standalone,
 * `{jobfleet:emails}:emails` on a cluster.
 */
export function queueKeyBase(client: { isCluster: boolean }, prefix: string, queue: string): string {
  return `${queuePrefix(client, prefix, queue)}:${queue}`;
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
 * misconfiguration. Reads `INFO memory`, which works where `CONFIG` is disabled;
 * on Redis Cluster of every master, as each holds queues of its own.
 */
export async function checkEvictionPolicy(client: RedisClient): Promise<EvictionPolicyCheck> {
  const masters = client instanceof Cluster ? client.nodes('master') : [];
  const servers: Array<{ info(section: string): Promise<string> }> = masters.length > 0 ? masters : [client];
  const policies = await Promise.all(
    servers.map(async (server) => /^maxmemory_policy:(\S+)/m.exec(await server.info('memory'))?.[1]),
  );
  const policy = policies.find((found) => found !== 'noeviction') ?? policies[0];
  return { ok: policy === 'noeviction', policy };
}

/** Resolves once the connection is ready (immediately if it already is); rejects after `timeoutMs`. */
export function waitUntilConnected(client: RedisClient, timeoutMs = 10_000): Promise<void> {
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
