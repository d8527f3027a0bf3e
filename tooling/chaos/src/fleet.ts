import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FLEET_FILE, readFleet } from '@jobfleet/fleet';
import {
  freePort,
  type RedisServer,
  type ServiceProcess,
  spawnService,
  startRedisServer,
  waitUntilReady,
} from '@jobfleet/test-utils';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';

const APPS_DIR = fileURLToPath(new URL('../../../apps/', import.meta.url));

/** Each app's Node options in fleet.json (`nodeOptions`), so the suite runs the apps as they are deployed. */
const NODE_OPTIONS = new Map(readFleet(FLEET_FILE).apps.map((app) => [app.name, app.nodeOptions ?? []]));
/** The Node options each app was started with in this run, for the report. */
const startedWith = new Map<AppName, readonly string[]>();

/** The Node options a running app has, read from its command line (Linux); else those it was given. */
function nodeOptionsOf(pid: number | undefined, main: string, given: readonly string[]): readonly string[] {
  try {
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    const at = argv.indexOf(main);
    if (at > 0) return argv.slice(1, at);
  } catch {
    // Not Linux, or the process is gone already.
  }
  return given;
}

/** `gateway --max-semi-space-size=32, email-worker (none)`: what the run's apps were started with. */
export function nodeOptionsInUse(): string {
  return [...startedWith]
    .map(([name, options]) => `${name} ${options.length > 0 ? options.join(' ') : '(none)'}`)
    .join(', ');
}

/** The API key every client of the suite uses: every queue, no rate limit to speak of. */
export const API_KEY = 'chaos-client-secret-0123456789';
const API_KEYS = JSON.stringify([
  { id: 'chaos', key: API_KEY, scopes: ['admin'], rateLimit: { max: 1_000_000, timeWindowMs: 1_000 } },
]);

/** The apps the suite runs, each as `node apps/<app>/dist/main.js`. */
export type AppName = 'gateway' | 'email-worker' | 'dlq-processor';

/** One running app: its process and the port of its `/health` and `/metrics`. */
export interface App {
  readonly name: AppName;
  readonly process: ServiceProcess;
  readonly url: string;
  readonly port: number;
  /** SIGTERM, and wait for the exit; the exit is expected, not a crash. */
  stop(): Promise<void>;
  /** SIGKILL, as a crash or an OOM killer would; not counted as a crash of the app. */
  kill(): Promise<void>;
}

/** Redis of one scenario, with the faults the suite injects. */
export interface ChaosRedis {
  readonly server: RedisServer;
  readonly url: string;
  /** An admin connection (not through any proxy). */
  readonly admin: Redis;
  /** The server's own log lines so far. */
  readonly log: string[];
  /** SIGKILL, as a crash would. */
  kill(): Promise<void>;
  /** Starts it again on the same port and directory (its AOF, if any). */
  restart(): Promise<void>;
  /** SIGSTOP: connections stay open, nothing answers. */
  freeze(): void;
  /** SIGCONT after {@link freeze}. */
  thaw(): void;
}

/**
 * Everything one scenario starts: its own redis-server, the apps, and helpers.
 * `close()` kills whatever is still running (SIGKILL) and removes temporary
 * directories; an app that ends by itself before that is counted as a crash.
 */
export class Fleet {
  readonly prefix = 'chaos';
  readonly dataDir = mkdtempSync(join(tmpdir(), 'jobfleet-chaos-'));
  readonly crashes: string[] = [];
  private readonly cleanups: Array<() => Promise<unknown> | unknown> = [];
  private readonly apps = new Set<App>();
  private readonly redisPids = new Set<number>();

  /** Registers a cleanup step; they run in reverse order in {@link close}. */
  defer(step: () => Promise<unknown> | unknown): void {
    this.cleanups.push(step);
  }

  async redis(
    options: { appendfsync?: 'everysec' | 'always'; args?: readonly string[] } = {},
  ): Promise<ChaosRedis> {
    const log: string[] = [];
    const server = await startRedisServer({
      log: (line) => {
        if (log.length < 1_000) log.push(line);
      },
      dir: mkdtempSync(join(this.dataDir, 'redis-')),
      appendOnly: options.appendfsync !== undefined,
      args: [...(options.appendfsync ? ['--appendfsync', options.appendfsync] : []), ...(options.args ?? [])],
    });
    this.defer(() => server.kill());
    const admin = new Redis(server.url, { maxRetriesPerRequest: null, lazyConnect: true });
    // The admin connection sees Redis die and come back; its errors are expected then.
    admin.on('error', () => {});
    await admin.connect();
    this.defer(() => admin.disconnect());
    let pid = 0;
    const readPid = async () => {
      this.redisPids.delete(pid);
      pid = Number(/^process_id:(\d+)/m.exec(await admin.info('server'))?.[1]);
      this.redisPids.add(pid);
    };
    await readPid();
    let frozen = false;
    const thaw = () => {
      if (frozen) process.kill(pid, 'SIGCONT');
      frozen = false;
    };
    // A frozen server would never end on SIGTERM; SIGKILL ends it anyway, but thaw first for a clean stop.
    this.defer(thaw);
    return {
      server,
      url: server.url,
      admin,
      log,
      kill: async () => {
        await server.kill();
        // Its PID may be reused from now on: never signal it again.
        this.redisPids.delete(pid);
      },
      async restart() {
        await server.start();
        await readPid();
      },
      freeze: () => {
        process.kill(pid, 'SIGSTOP');
        frozen = true;
      },
      thaw,
    };
  }

  /** A BullMQ queue on the admin connection, for counts. */
  queue(redis: ChaosRedis, name: string): Queue {
    const queue = new Queue(name, { connection: redis.admin, prefix: this.prefix });
    // Redis restarts and CLIENT KILL break its connection on purpose.
    queue.on('error', () => {});
    this.defer(() => queue.close());
    return queue;
  }

  /** Starts an app and resolves once its `/health/ready` answers 200. */
  async start(name: AppName, redisUrl: string, env: Record<string, string> = {}): Promise<App> {
    const port = await freePort();
    const portKey = name === 'gateway' ? 'PORT' : 'METRICS_PORT';
    const main = join(APPS_DIR, name, 'dist', 'main.js');
    const nodeArgs = NODE_OPTIONS.get(name) ?? [];
    const proc = spawnService({
      name,
      main,
      nodeArgs,
      cwd: this.dataDir,
      env: {
        REDIS_URL: redisUrl,
        JOBFLEET_PREFIX: this.prefix,
        HOST: '127.0.0.1',
        [portKey]: String(port),
        LOG_LEVEL: 'warn',
        ...(name === 'gateway' ? { GATEWAY_API_KEYS: API_KEYS } : {}),
        ...env,
      },
    });
    let expected = false;
    void proc.exited.then((exit) => {
      if (!expected) {
        this.crashes.push(
          `${name} exited by itself (code ${exit.code}, signal ${exit.signal}): ${proc.stderr().slice(-500)}`,
        );
      }
    });
    const url = `http://127.0.0.1:${port}`;
    const app: App = {
      name,
      process: proc,
      url,
      port,
      stop: async () => {
        expected = true;
        this.apps.delete(app);
        await proc.stop('SIGTERM');
      },
      kill: async () => {
        expected = true;
        this.apps.delete(app);
        await proc.stop('SIGKILL');
      },
    };
    this.apps.add(app);
    await waitUntilReady(url, {
      child: proc.child,
      timeoutMs: 60_000,
      output: () => `${proc.logs.map((line) => JSON.stringify(line)).join('\n')}\n${proc.stderr()}`,
    });
    startedWith.set(name, nodeOptionsOf(proc.child.pid, main, nodeArgs));
    return app;
  }

  async close(): Promise<void> {
    for (const app of [...this.apps]) await app.kill();
    for (const step of this.cleanups.splice(0).reverse()) {
      await Promise.resolve()
        .then(step)
        .catch(() => {});
    }
    this.redisPids.clear();
    rmSync(this.dataDir, { recursive: true, force: true });
  }

  /** PIDs still running, for the last-resort kill when the suite itself is interrupted. */
  pids(): number[] {
    return [
      ...[...this.apps].flatMap((app) => (app.process.child.pid ? [app.process.child.pid] : [])),
      ...this.redisPids,
    ];
  }
}
