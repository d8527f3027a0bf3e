import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './free-port.js';

export interface RedisServerOptions {
  /** Defaults to a free port. */
  port?: number;
  /** Data directory; defaults to a new temporary directory, removed by `stop()`. */
  dir?: string;
  /** Append-only file on (durable) or off (fast, for tests). */
  appendOnly?: boolean;
  /** The binary; defaults to `$REDIS_SERVER_BIN` or `redis-server` on the PATH. */
  binary?: string;
  /** Where the server's own log lines go; defaults to nowhere. */
  log?: (line: string) => void;
  /** More command-line options, after the defaults (e.g. `['--cluster-enabled', 'yes']`, `['--replicaof', '127.0.0.1', '6380']`). */
  args?: readonly string[];
}

/** A real `redis-server` child process that a test or the local fleet owns. */
export interface RedisServer {
  readonly url: string;
  readonly port: number;
  readonly dir: string;
  /** Starts it again on the same port and directory after `kill()` or `shutdown()`. */
  start(): Promise<void>;
  /** SIGKILL, as a crash would. */
  kill(): Promise<void>;
  /** SIGTERM, and wait for the process to exit. */
  shutdown(): Promise<void>;
  /** Shuts down and removes a temporary data directory. */
  stop(): Promise<void>;
}

export const REDIS_INSTALL_HINT =
  'install Redis: Debian/Ubuntu `apt-get install redis-server`, Fedora `dnf install redis`, macOS `brew install redis`; or set REDIS_SERVER_BIN';

function resolveBinary(binary: string | undefined): string {
  const candidate = binary ?? process.env.REDIS_SERVER_BIN ?? 'redis-server';
  const probe = spawnSync(candidate, ['--version'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) {
    throw new Error(`redis-server not found (tried "${candidate}"): ${REDIS_INSTALL_HINT}`);
  }
  return candidate;
}

/** Starts `redis-server` on 127.0.0.1 and resolves once it accepts connections. */
export async function startRedisServer(options: RedisServerOptions = {}): Promise<RedisServer> {
  const binary = resolveBinary(options.binary);
  const port = options.port ?? (await freePort());
  const temporary = options.dir === undefined;
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'jobfleet-redis-'));
  const args = [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--dir',
    dir,
    '--save',
    '',
    '--appendonly',
    options.appendOnly ? 'yes' : 'no',
    '--maxmemory-policy',
    'noeviction',
    '--daemonize',
    'no',
    '--logfile',
    '',
    ...(options.args ?? []),
  ];
  let child: ChildProcess | undefined;

  const start = () =>
    new Promise<void>((resolve, reject) => {
      const proc = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
      child = proc;
      let output = '';
      const onData = (chunk: Buffer) => {
        const text = chunk.toString();
        for (const line of text.split('\n')) if (line.trim()) options.log?.(line);
        if (output.length < 10_000) output += text;
        if (output.includes('Ready to accept connections')) resolve();
      };
      proc.stdout?.on('data', onData);
      proc.stderr?.on('data', onData);
      proc.once('error', reject);
      proc.once('exit', (code, signal) =>
        reject(
          new Error(`redis-server exited before it was ready (code ${code}, signal ${signal}):\n${output}`),
        ),
      );
    });

  const stopWith = (signal: NodeJS.Signals) =>
    new Promise<void>((resolve) => {
      const proc = child;
      child = undefined;
      if (!proc || proc.exitCode !== null || proc.signalCode !== null) return resolve();
      proc.once('exit', () => resolve());
      proc.kill(signal);
    });

  await start();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    dir,
    start,
    kill: () => stopWith('SIGKILL'),
    shutdown: () => stopWith('SIGTERM'),
    async stop() {
      await stopWith('SIGTERM');
      if (temporary) rmSync(dir, { recursive: true, force: true });
    },
  };
}
