import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { freePort } from './free-port.js';
import { type RedisServer, startRedisServer } from './redis-server.js';

const run = promisify(execFile);

export interface RedisClusterOptions {
  /** How many masters (no replicas); at least 3, as `redis-cli --cluster create` wants. */
  masters?: number;
  /** Where the servers' log lines go; defaults to nowhere. */
  log?: (line: string) => void;
}

/** One master of a test cluster. */
export interface ClusterNode {
  readonly host: string;
  readonly port: number;
  /** The cluster bus port (set explicitly: `port + 10000` may not be a valid port). */
  readonly busPort: number;
  readonly dir: string;
  /** Its node id, as `CLUSTER NODES` shows it. */
  readonly id: string;
}

/** A real Redis Cluster of child processes that a test owns. */
export interface RedisCluster {
  readonly nodes: readonly ClusterNode[];
  /** `host:port,…` of every master, as `REDIS_CLUSTER_NODES` takes it. */
  readonly seeds: string;
  /** Runs `redis-cli` against one node (the first by default) and returns its output. */
  cli(args: readonly string[], node?: ClusterNode): Promise<string>;
  /** The hash slot of a key (`CLUSTER KEYSLOT`). */
  keySlot(key: string): Promise<number>;
  /** The master that serves a slot now. */
  ownerOf(slot: number): Promise<ClusterNode>;
  /**
   * Moves one slot, keys included, to another master while the cluster serves:
   * `redis-cli --cluster reshard` cannot name the slot it moves, so this is the
   * sequence it runs for each slot (SETSLOT IMPORTING/MIGRATING, MIGRATE the
   * keys in batches, SETSLOT NODE on both sides and the rest).
   */
  moveSlot(slot: number, to: ClusterNode): Promise<void>;
  /**
   * Moves a slot with `redis-cli --cluster reshard`: reshard takes a source's
   * lowest slots first, so it moves every slot of the owner from its first one
   * up to `slot` (keys included) to `to`. Resolves once every node agrees.
   */
  reshard(slot: number, to: ClusterNode): Promise<void>;
  /** Kills every server and removes their directories. */
  stop(): Promise<void>;
}

async function cli(port: number, args: readonly string[]): Promise<string> {
  const { stdout } = await run('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args], {
    maxBuffer: 64 * 1024 * 1024,
  });
  return stdout;
}

/** Resolves once `CLUSTER INFO` says ok on every node and they agree on the slots. */
async function waitUntilConsistent(nodes: readonly ClusterNode[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    const infos = await Promise.all(nodes.map((node) => cli(node.port, ['cluster', 'info'])));
    const slotsViews = await Promise.all(nodes.map((node) => cli(node.port, ['cluster', 'slots'])));
    last = infos.join('\n');
    if (infos.every((info) => /cluster_state:ok/.test(info)) && new Set(slotsViews).size === 1) return;
    if (Date.now() > deadline) throw new Error(`cluster not consistent after ${timeoutMs} ms:\n${last}`);
    // Gossip has no event to await from outside; poll CLUSTER INFO (bounded by the deadline).
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * Starts a Redis Cluster of `masters` masters on free ports (own data
 * directories, append-only, `noeviction`), joined with `redis-cli --cluster
 * create`, and resolves once every node reports `cluster_state:ok`.
 */
export async function startRedisCluster(options: RedisClusterOptions = {}): Promise<RedisCluster> {
  const masters = options.masters ?? 3;
  if (masters < 3) throw new Error('a Redis Cluster needs at least 3 masters');
  const servers: RedisServer[] = [];
  // Killed, not shut down: nothing of a test cluster needs keeping, and SIGKILL is instant.
  const stop = async () => {
    await Promise.all(servers.map((server) => server.kill()));
    await Promise.all(servers.map((server) => server.stop()));
  };
  try {
    const ports: Array<{ port: number; busPort: number; dir: string }> = [];
    const taken = new Set<number>();
    const distinctPort = async () => {
      for (;;) {
        const port = await freePort();
        if (!taken.has(port)) {
          taken.add(port);
          return port;
        }
      }
    };
    for (let i = 0; i < masters; i++) {
      const [port, busPort] = [await distinctPort(), await distinctPort()];
      const server = await startRedisServer({
        port,
        appendOnly: true,
        ...(options.log ? { log: options.log } : {}),
        // An explicit bus port: the default, port + 10000, can be past 65535 with a random port.
        args: [
          '--cluster-enabled',
          'yes',
          '--cluster-port',
          String(busPort),
          '--cluster-node-timeout',
          '5000',
        ],
      });
      servers.push(server);
      ports.push({ port, busPort, dir: server.dir });
    }
    await run('redis-cli', [
      '--cluster',
      'create',
      ...ports.map(({ port }) => `127.0.0.1:${port}`),
      '--cluster-replicas',
      '0',
      '--cluster-yes',
    ]);
    const nodes: ClusterNode[] = await Promise.all(
      ports.map(async ({ port, busPort, dir }) => ({
        host: '127.0.0.1',
        port,
        busPort,
        dir,
        id: (await cli(port, ['cluster', 'myid'])).trim(),
      })),
    );
    await waitUntilConsistent(nodes, 30_000);

    const keySlot = async (key: string) =>
      Number((await cli(nodes[0]?.port ?? 0, ['cluster', 'keyslot', key])).trim());
    const ownerOf = async (slot: number) => {
      const view = await cli(nodes[0]?.port ?? 0, ['cluster', 'nodes']);
      for (const line of view.split('\n')) {
        const [id, , , , , , , , ...ranges] = line.split(' ');
        const owns = ranges.some((range) => {
          if (range.startsWith('[')) return false;
          const [from, to = from] = range.split('-').map(Number);
          return from !== undefined && to !== undefined && slot >= from && slot <= to;
        });
        const node = nodes.find((n) => n.id === id);
        if (owns && node) return node;
      }
      throw new Error(`no master serves slot ${slot}`);
    };

    return {
      nodes,
      seeds: nodes.map((node) => `${node.host}:${node.port}`).join(','),
      cli: (args, node = nodes[0]) => cli(node?.port ?? 0, args),
      keySlot,
      ownerOf,
      async moveSlot(slot, to) {
        const from = await ownerOf(slot);
        if (from.id === to.id) return;
        const s = String(slot);
        await cli(to.port, ['cluster', 'setslot', s, 'importing', from.id]);
        await cli(from.port, ['cluster', 'setslot', s, 'migrating', to.id]);
        for (;;) {
          // 10 keys per MIGRATE, as `redis-cli --cluster reshard` (its `--cluster-pipeline` default).
          const keys = (await cli(from.port, ['cluster', 'getkeysinslot', s, '10']))
            .split('\n')
            .filter((key) => key.length > 0);
          if (keys.length === 0) break;
          const reply = await cli(from.port, [
            'migrate',
            to.host,
            String(to.port),
            '',
            '0',
            '10000',
            'REPLACE',
            'KEYS',
            ...keys,
          ]);
          if (!/OK|NOKEY/.test(reply)) throw new Error(`MIGRATE of slot ${slot} failed: ${reply}`);
        }
        // As redis-cli does: the target first, then the source, then every other master.
        await cli(to.port, ['cluster', 'setslot', s, 'node', to.id]);
        await cli(from.port, ['cluster', 'setslot', s, 'node', to.id]);
        for (const node of nodes) {
          if (node.id !== to.id && node.id !== from.id)
            await cli(node.port, ['cluster', 'setslot', s, 'node', to.id]);
        }
        await waitUntilConsistent(nodes, 30_000);
      },
      async reshard(slot, to) {
        const from = await ownerOf(slot);
        if (from.id === to.id) return;
        const owned =
          (await cli(from.port, ['cluster', 'nodes']))
            .split('\n')
            .find((line) => line.startsWith(from.id))
            ?.split(' ')
            .slice(8)
            .filter((range) => !range.startsWith('['))
            .flatMap((range) => {
              const [first = 0, last = first] = range.split('-').map(Number);
              return Array.from({ length: last - first + 1 }, (_, i) => first + i);
            }) ?? [];
        const count = owned.filter((owned) => owned <= slot).length;
        await run(
          'redis-cli',
          [
            '--cluster',
            'reshard',
            `${from.host}:${from.port}`,
            '--cluster-from',
            from.id,
            '--cluster-to',
            to.id,
            '--cluster-slots',
            String(count),
            '--cluster-yes',
          ],
          { maxBuffer: 64 * 1024 * 1024 },
        );
        await waitUntilConsistent(nodes, 30_000);
        const owner = await ownerOf(slot);
        if (owner.id !== to.id) throw new Error(`reshard left slot ${slot} on ${owner.port}, not ${to.port}`);
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
