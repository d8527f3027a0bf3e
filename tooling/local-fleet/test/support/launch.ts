import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { freePort } from '@jobfleet/test-utils';
import { fleetServices, isEnabled, readFleetManifest } from '../../src/index.js';

export const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../../..');
/** The apps `pnpm start` runs in these tests: those not waiting for an `enabledBy` variable. */
export const services = fleetServices(readFleetManifest(root).filter((app) => isEnabled(app, {})));

/** A launcher process (`pnpm start`'s, or one of its entry points) and what it printed. */
export interface Launched {
  readonly child: ChildProcess;
  readonly lines: string[];
  readonly env: Record<string, string>;
  readonly dataDir: string;
  readonly redisPort: number;
  /** Every port the fleet listens on: Redis and each app. */
  readonly ports: number[];
  readonly gateway: string;
  readonly exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves with the first line (already printed or still to come) that matches. */
  line(pattern: RegExp): Promise<string>;
}

/**
 * Runs `command` with its own Redis port, app ports and data directory (never the
 * machine's 6379, 3000, …) and resolves once the fleet's banner is printed.
 */
export async function launch(command: string, args: string[], extraEnv: Record<string, string> = {}) {
  const dataDir = mkdtempSync(join(tmpdir(), 'jobfleet-fleet-'));
  const redisPort = await freePort();
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? tmpdir(),
    JOBFLEET_DATA_DIR: dataDir,
    JOBFLEET_LOCAL_REDIS_PORT: String(redisPort),
    LOG_LEVEL: 'warn',
    ...extraEnv,
  };
  if (process.env.REDIS_SERVER_BIN) env.REDIS_SERVER_BIN = process.env.REDIS_SERVER_BIN;
  const ports = [redisPort];
  for (const service of services) {
    const port = await freePort();
    env[service.overrideKey] = String(port);
    ports.push(port);
  }
  const child = spawn(command, args, { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  const waiting = new Set<{ pattern: RegExp; resolve: (line: string) => void }>();
  const onLine = (line: string) => {
    lines.push(line);
    for (const waiter of waiting) {
      if (waiter.pattern.test(line)) {
        waiting.delete(waiter);
        waiter.resolve(line);
      }
    }
  };
  createInterface({ input: child.stdout }).on('line', onLine);
  createInterface({ input: child.stderr }).on('line', onLine);
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const line = (pattern: RegExp) =>
    new Promise<string>((resolve, reject) => {
      const seen = lines.find((l) => pattern.test(l));
      if (seen !== undefined) return resolve(seen);
      waiting.add({ pattern, resolve });
      void exit.then(() => reject(new Error(`exited before printing ${pattern}:\n${lines.join('\n')}`)));
    });
  const launched: Launched = {
    child,
    lines,
    env,
    dataDir,
    redisPort,
    ports,
    gateway: `http://127.0.0.1:${env.GATEWAY_PORT}`,
    exit,
    line,
  };
  await line(/^Press Ctrl-C/);
  return launched;
}

/** The process ids under `pid` (children, grandchildren, …), living or not yet reaped. */
export function descendants(pid: number): number[] {
  const parents = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // gone meanwhile
    }
    // "pid (comm) state ppid …": comm may hold spaces and parentheses.
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    parents.set(ppid, [...(parents.get(ppid) ?? []), Number(entry)]);
  }
  const found: number[] = [];
  const walk = (parent: number) => {
    for (const child of parents.get(parent) ?? []) {
      found.push(child);
      walk(child);
    }
  };
  walk(pid);
  return found;
}

/** The command line of a process, or undefined when it is gone. */
export function commandLine(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ').trim();
  } catch {
    return undefined;
  }
}

/** Whether a process still runs (a zombie has ended: only its exit status is left to collect). */
export function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

/** The pid of the app `name` among `pids`. */
export function appPid(pids: readonly number[], name: string): number | undefined {
  return pids.find((pid) => commandLine(pid)?.includes(`apps/${name}/dist/main.js`));
}

/** The ports among `ports` that something still listens on (127.0.0.1). */
export async function busyPorts(ports: readonly number[]): Promise<number[]> {
  const busy: number[] = [];
  for (const port of ports) {
    const free = await new Promise<boolean>((resolve) => {
      const server = createServer();
      server.once('error', () => resolve(false));
      server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
    });
    if (!free) busy.push(port);
  }
  return busy;
}
