import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { freePort } from './free-port.js';
import { type RedisServer, startRedisServer } from './redis-server.js';

export interface RedisSentinelOptions {
  /** The master name the sentinels monitor. Default `jobfleet`. */
  name?: string;
  /** `down-after-milliseconds`: how long the master may be silent before it counts as down. Default 1000. */
  downAfterMs?: number;
  /** `failover-timeout`. Default 5000. */
  failoverTimeoutMs?: number;
  /** The binary; defaults to `$REDIS_SERVER_BIN` or `redis-server` on the PATH. */
  binary?: string;
  /** Where every server's and sentinel's log lines go, prefixed with its port; defaults to nowhere. */
  log?: (line: string) => void;
}

export interface HostPort {
  host: string;
  port: number;
}

/** A real master, a replica and three sentinels that a test owns. */
export interface RedisSentinelSetup {
  /** The monitored master's name (`REDIS_SENTINEL_NAME`). */
  readonly name: string;
  /** The three sentinels. */
  readonly sentinels: readonly HostPort[];
  /** The sentinels as `REDIS_SENTINELS` takes them: `host:port,…`. */
  readonly sentinelsEnv: string;
  /** Both data servers, the first one the initial master. */
  readonly servers: readonly RedisServer[];
  /** The server at a port, e.g. the one {@link currentMaster} names. */
  server(port: number): RedisServer;
  /** The master as the sentinels see it now (every sentinel agrees). */
  currentMaster(): Promise<HostPort>;
  /**
   * Resolves once every sentinel names a master other than `previous` and that
   * server answers `ROLE` as a master; rejects after `timeoutMs` (default 30 s).
   */
  waitForNewMaster(previous: HostPort, timeoutMs?: number): Promise<HostPort>;
  /** `SENTINEL FAILOVER`, then waits for the promotion as {@link waitForNewMaster}. */
  failover(): Promise<HostPort>;
  /** `kill -9` of the current master; resolves with it once it is dead (before any promotion). */
  killMaster(): Promise<{ master: HostPort; server: RedisServer }>;
  /**
   * Resolves once the current master reports `count` connected replicas that
   * caught up with it (`WAIT` on a fresh write); rejects after `timeoutMs`.
   */
  waitForReplicas(count?: number, timeoutMs?: number): Promise<void>;
  /** Stops the sentinels and the servers and removes their directories. */
  stop(): Promise<void>;
}

const LOCALHOST = '127.0.0.1';

interface SentinelProcess {
  port: number;
  stop(): Promise<void>;
}

function startSentinelProcess(
  binary: string,
  conf: string,
  port: number,
  log: ((line: string) => void) | undefined,
): Promise<SentinelProcess> {
  return new Promise((resolve, reject) => {
    const proc: ChildProcess = spawn(binary, [conf, '--sentinel'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const stop = () =>
      new Promise<void>((done) => {
        if (proc.exitCode !== null || proc.signalCode !== null) return done();
        proc.once('exit', () => done());
        proc.kill('SIGKILL');
      });
    const onData = (chunk: Buffer) => {
      const text = chunk.toString();
      for (const line of text.split('\n')) if (line.trim()) log?.(`sentinel ${port}: ${line}`);
      if (output.length < 20_000) output += text;
      // Logged once the sentinel has loaded its config and listens.
      if (output.includes('+monitor master')) resolve({ port, stop });
    };
    proc.stdout?.on('data', onData);
    proc.stderr?.on('data', onData);
    proc.once('error', reject);
    proc.once('exit', (code, signal) =>
      reject(
        new Error(`redis sentinel exited before it was ready (code ${code}, signal ${signal}):\n${output}`),
      ),
    );
  });
}

/** Polls `check` until it returns a value (not `undefined`); rejects with `what` after `timeoutMs`. */
async function until<T>(
  what: () => string,
  timeoutMs: number,
  check: () => Promise<T | undefined>,
): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const value = await check().catch(() => undefined);
    if (value !== undefined) return value;
    if (performance.now() >= deadline) throw new Error(`after ${timeoutMs} ms: ${what()}`);
    // Sentinels announce nothing a client can await without subscribing to each; their state is polled.
    await delay(50);
  }
}

/**
 * Starts a master, a replica (`--replicaof`) and three sentinels (`redis-server
 * <conf> --sentinel`, quorum 2, each with its own writable config in a temporary
 * directory) on free ports of 127.0.0.1. Resolves once every sentinel knows the
 * master, the replica and the two other sentinels.
 */
export async function startRedisSentinel(options: RedisSentinelOptions = {}): Promise<RedisSentinelSetup> {
  const { name = 'jobfleet', downAfterMs = 1_000, failoverTimeoutMs = 5_000, log } = options;
  const binary = options.binary ?? process.env.REDIS_SERVER_BIN ?? 'redis-server';
  const servers: RedisServer[] = [];
  const sentinelProcs: SentinelProcess[] = [];
  const clients: Redis[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'jobfleet-sentinel-'));
  const connect = (port: number) => {
    const client = new Redis({ host: LOCALHOST, port, lazyConnect: true, maxRetriesPerRequest: 1 });
    client.on('error', () => {});
    clients.push(client);
    return client;
  };

  const stop = async () => {
    for (const client of clients) client.disconnect();
    await Promise.all(sentinelProcs.map((s) => s.stop()));
    await Promise.all(servers.map((s) => s.stop()));
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    const serverLog = (port: number) => (log ? (line: string) => log(`redis ${port}: ${line}`) : undefined);
    const masterPort = await freePort();
    const master = await startRedisServer({
      port: masterPort,
      ...(options.binary ? { binary: options.binary } : {}),
      ...(log ? { log: serverLog(masterPort) } : {}),
    });
    servers.push(master);
    const replicaPort = await freePort();
    const replica = await startRedisServer({
      port: replicaPort,
      ...(options.binary ? { binary: options.binary } : {}),
      ...(log ? { log: serverLog(replicaPort) } : {}),
      args: ['--replicaof', LOCALHOST, String(masterPort)],
    });
    servers.push(replica);
    const masterClient = connect(masterPort);
    await until(
      () => 'the replica never came online',
      15_000,
      async () => ((await masterClient.info('replication')).includes('state=online') ? true : undefined),
    );

    const sentinels: HostPort[] = [];
    for (let i = 0; i < 3; i++) {
      const port = await freePort();
      const conf = join(dir, `sentinel-${port}.conf`);
      writeFileSync(
        conf,
        [
          `port ${port}`,
          `bind ${LOCALHOST}`,
          `dir ${dir}`,
          'logfile ""',
          `sentinel monitor ${name} ${LOCALHOST} ${masterPort} 2`,
          `sentinel down-after-milliseconds ${name} ${downAfterMs}`,
          `sentinel failover-timeout ${name} ${failoverTimeoutMs}`,
          `sentinel parallel-syncs ${name} 1`,
          '',
        ].join('\n'),
      );
      sentinelProcs.push(await startSentinelProcess(binary, conf, port, log));
      sentinels.push({ host: LOCALHOST, port });
    }
    const sentinelClients = sentinels.map(({ port }) => connect(port));

    await until(
      () => 'the sentinels did not discover the replica and each other',
      30_000,
      async () => {
        for (const client of sentinelClients) {
          const replicas = (await client.call('SENTINEL', 'REPLICAS', name)) as unknown[];
          const peers = (await client.call('SENTINEL', 'SENTINELS', name)) as unknown[];
          if (replicas.length < 1 || peers.length < sentinels.length - 1) return undefined;
        }
        return true;
      },
    );

    const masterSeenBy = async (client: Redis): Promise<HostPort> => {
      const [host, port] = (await client.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', name)) as [
        string,
        string,
      ];
      return { host, port: Number(port) };
    };
    const currentMaster = async (): Promise<HostPort> => {
      const seen = await Promise.all(sentinelClients.map(masterSeenBy));
      const ports = new Set(seen.map((m) => m.port));
      const [first] = seen;
      if (!first || ports.size !== 1) throw new Error(`the sentinels disagree on the master: ${[...ports]}`);
      return first;
    };
    const serverAt = (port: number) => {
      const found = servers.find((s) => s.port === port);
      if (!found) throw new Error(`no server of this setup on port ${port}`);
      return found;
    };
    const dataClients = new Map<number, Redis>();
    const dataClient = (port: number) => {
      let client = dataClients.get(port);
      if (!client) {
        client = connect(port);
        dataClients.set(port, client);
      }
      return client;
    };
    const waitForNewMaster = (previous: HostPort, timeoutMs = 30_000) =>
      until(
        () => `no master other than ${previous.host}:${previous.port} was promoted`,
        timeoutMs,
        async () => {
          const now = await currentMaster();
          if (now.port === previous.port) return undefined;
          const [role] = (await dataClient(now.port).call('ROLE')) as [string];
          return role === 'master' ? now : undefined;
        },
      );

    return {
      name,
      sentinels,
      sentinelsEnv: sentinels.map(({ host, port }) => `${host}:${port}`).join(','),
      servers,
      server: serverAt,
      currentMaster,
      waitForNewMaster,
      async failover() {
        const before = await currentMaster();
        const [first] = sentinelClients;
        if (!first) throw new Error('no sentinel');
        await first.call('SENTINEL', 'FAILOVER', name);
        return waitForNewMaster(before);
      },
      async killMaster() {
        const master = await currentMaster();
        const server = serverAt(master.port);
        dataClients.get(master.port)?.disconnect();
        dataClients.delete(master.port);
        await server.kill();
        return { master, server };
      },
      async waitForReplicas(count = 1, timeoutMs = 30_000) {
        await until(
          () => `the master has fewer than ${count} replicas in sync`,
          timeoutMs,
          async () => {
            const client = dataClient((await currentMaster()).port);
            // A write of this connection, so WAIT has something to confirm.
            await client.set('jobfleet:test:sentinel-probe', String(Date.now()));
            const acked = (await client.call('WAIT', String(count), '500')) as number;
            return acked >= count ? true : undefined;
          },
        );
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
