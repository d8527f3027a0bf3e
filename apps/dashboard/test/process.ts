import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export const PACKAGE_DIR = fileURLToPath(new URL('..', import.meta.url));
export const MAIN = join(PACKAGE_DIR, 'dist', 'main.js');
export const HASH_PASSWORD = join(PACKAGE_DIR, 'dist', 'hash-password.js');

function newestSource(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestSource(path) : statSync(path).mtimeMs);
  }
  return newest;
}

/**
 * Builds `dist/` when it is missing or older than `src/`: turbo's `test` task
 * may run before this package's own build, and a stale `dist/` would test old code.
 */
export function ensureBuilt(): void {
  const built = [MAIN, HASH_PASSWORD].every((file) => existsSync(file));
  if (built && statSync(MAIN).mtimeMs >= newestSource(join(PACKAGE_DIR, 'src'))) return;
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  execFileSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: PACKAGE_DIR, stdio: 'pipe' });
}

export type LogLine = Record<string, unknown> & { msg?: string; level?: number };

export interface DashboardProcess {
  readonly child: ChildProcess;
  readonly logs: LogLine[];
  stderr(): string;
  /** Resolves with the first log line (past or future) that matches. */
  waitForLog(match: (line: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Runs `node dist/main.js` with only `PATH` and `env` in its environment. */
export function spawnDashboard(env: Record<string, string>): DashboardProcess {
  const child = spawn(process.execPath, [MAIN], {
    cwd: PACKAGE_DIR,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: LogLine[] = [];
  const waiters = new Set<{ match: (line: LogLine) => boolean; resolve: (line: LogLine) => void }>();
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  createInterface({ input: child.stdout ?? process.stdin }).on('line', (text) => {
    let line: LogLine;
    try {
      line = JSON.parse(text) as LogLine;
    } catch {
      line = { msg: text, unparsed: true };
    }
    logs.push(line);
    for (const waiter of waiters) {
      if (waiter.match(line)) {
        waiters.delete(waiter);
        waiter.resolve(line);
      }
    }
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('close', (code, signal) => resolve({ code, signal }));
  });
  return {
    child,
    logs,
    stderr: () => stderr,
    exited,
    waitForLog(match, timeoutMs = 15_000) {
      const found = logs.find(match);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(waiter);
          reject(
            new Error(
              `no matching log line within ${timeoutMs} ms; logs:\n${JSON.stringify(logs)}\n${stderr}`,
            ),
          );
        }, timeoutMs);
        const waiter = {
          match,
          resolve: (line: LogLine) => {
            clearTimeout(timer);
            resolve(line);
          },
        };
        waiters.add(waiter);
        void exited.then(() => {
          if (!waiters.has(waiter)) return;
          waiters.delete(waiter);
          clearTimeout(timer);
          reject(new Error(`the dashboard exited before the awaited log line; stderr:\n${stderr}`));
        });
      });
    },
  };
}

/** The base URL the dashboard logged as listening on. */
export async function listeningUrl(dashboard: DashboardProcess): Promise<string> {
  const line = await dashboard.waitForLog((l) => l.msg === 'dashboard listening');
  return String(line.url).replace('0.0.0.0', '127.0.0.1');
}
