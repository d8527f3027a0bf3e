import {
  ConfigError,
  commonConfig,
  createRedisConnection,
  describeRedis,
  loadConfig,
  queuePrefix,
  type RedisClient,
  type RedisFlavour,
  type RedisTopology,
  redisTopology,
} from '@jobfleet/service-kit';
import { type RedisServer, startRedisServer } from '@jobfleet/test-utils';

/** The keys a topology is read from, passed on to the processes the bench starts. */
const TOPOLOGY_KEYS = [
  'REDIS_CLUSTER_NODES',
  'REDIS_SENTINELS',
  'REDIS_SENTINEL_NAME',
  'REDIS_SENTINEL_PASSWORD',
  'REDIS_USERNAME',
  'REDIS_PASSWORD',
  'REDIS_PASSWORD_FILE',
  'REDIS_TLS',
  'REDIS_TLS_CA_FILE',
] as const;

type Environment = Readonly<Record<string, string | undefined>>;

const isSet = (environment: Environment, key: string) => (environment[key]?.trim() ?? '') !== '';

/**
 * What the bench runs against: `own` (a redis-server it starts), or a topology
 * with the environment that selects it for a child process.
 */
export type RedisTargetChoice =
  | { kind: 'own' }
  | { kind: 'given'; topology: RedisTopology; env: Record<string, string> };

/**
 * `BENCH_REDIS_URL` (a standalone Redis, as always); else `REDIS_CLUSTER_NODES`
 * or `REDIS_SENTINELS` with their keys, read as every jobfleet process reads
 * them, so a bad combination fails with the same message; else its own
 * redis-server. A `REDIS_URL` alone is not a choice: the bench keeps off a
 * shared Redis unless told by name.
 */
export function chooseRedisTarget(environment: Environment): RedisTargetChoice {
  const url = isSet(environment, 'BENCH_REDIS_URL') ? environment.BENCH_REDIS_URL?.trim() : undefined;
  const topologySet = isSet(environment, 'REDIS_CLUSTER_NODES') || isSet(environment, 'REDIS_SENTINELS');
  if (url === undefined && !topologySet) return { kind: 'own' };
  if (url !== undefined && topologySet) {
    const other = isSet(environment, 'REDIS_CLUSTER_NODES') ? 'REDIS_CLUSTER_NODES' : 'REDIS_SENTINELS';
    throw new ConfigError([`BENCH_REDIS_URL and ${other}: set one Redis for the bench, not both`]);
  }
  const env: Record<string, string> = {};
  for (const key of TOPOLOGY_KEYS) {
    const value = environment[key]?.trim();
    if (value) env[key] = value;
  }
  if (url !== undefined) env.REDIS_URL = url;
  return { kind: 'given', topology: redisTopology(loadConfig(commonConfig, env)), env };
}

export interface RedisTarget {
  readonly topology: RedisTopology;
  /** Where, without secrets. */
  readonly description: string;
  /** Whether the target is the bench's own redis-server. */
  readonly own: boolean;
  /** The environment that points a jobfleet process (gateway, worker) at the target. */
  readonly env: Readonly<Record<string, string>>;
  /** A connection of the given flavour, as the fleet's processes open them. */
  connect(flavour: RedisFlavour, name?: string): RedisClient;
  /**
   * The BullMQ `prefix` of `queue` under the fleet prefix `prefix`, as the fleet's processes use
   * it: on Redis Cluster the queue's own hash tag, else `prefix` itself.
   */
  prefix(client: RedisClient, prefix: string, queue: string): string;
  /** Stops the bench's own redis-server, if it started one. */
  stop(): Promise<void>;
}

/** Opens the target {@link chooseRedisTarget} picks, starting a redis-server when it is the bench's own. */
export async function openRedisTarget(environment: Environment = process.env): Promise<RedisTarget> {
  const choice = chooseRedisTarget(environment);
  let server: RedisServer | undefined;
  let topology: RedisTopology;
  let env: Record<string, string>;
  if (choice.kind === 'own') {
    server = await startRedisServer();
    topology = { kind: 'standalone', url: server.url };
    env = { REDIS_URL: server.url };
  } else {
    ({ topology, env } = choice);
  }
  return targetOf(
    topology,
    env,
    async () => {
      await server?.stop();
    },
    server !== undefined,
  );
}

/** The target a process started by the bench was pointed at, read from its own environment. */
export function redisTargetFromEnv(environment: Environment = process.env): RedisTarget {
  const config = loadConfig(commonConfig, environment);
  return targetOf(redisTopology(config), {}, async () => {});
}

function targetOf(
  topology: RedisTopology,
  env: Record<string, string>,
  stop: () => Promise<void>,
  own = false,
): RedisTarget {
  return {
    topology,
    description: describeRedis(topology),
    own,
    env,
    connect: (flavour, name) =>
      createRedisConnection({ redis: topology, flavour, ...(name === undefined ? {} : { name }) }),
    prefix: queuePrefix,
    stop,
  };
}
