import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { isAbsolute, join } from 'node:path';
import { createInterface } from 'node:readline';

function newestSource(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestSource(path) : statSync(path).mtimeMs);
  }
  return newest;
}

/** Options of {@link ensureBuilt}. */
export interface EnsureBuiltOptions {
  /**
   * Built files that must exist, relative to the package directory; the first one's
   * age decides whether `dist/` is stale. Default `['dist/main.js']`.
   */
  readonly outputs?: readonly string[];
}

/**
 * Builds a package's `dist/` (`tsc -p tsconfig.build.json`, with the package's own
 * TypeScript) when an output is missing or the first output is older than `src/`:
 * turbo's `test` task builds a package's dependencies, not the package itself, and a
 * stale `dist/main.js` would test old code.
 */
export function ensureBuilt(packageDir: string, options: EnsureBuiltOptions = {}): void {
  const outputs = (options.outputs ?? ['dist/main.js']).map((file) => join(packageDir, file));
  const [first] = outputs;
  const built = first !== undefined && outputs.every((file) => existsSync(file));
  if (built && statSync(first).mtimeMs >= newestSource(join(packageDir, 'src'))) return;
  const tsc = createRequire(join(packageDir, 'package.json')).resolve('typescript/bin/tsc');
  execFileSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: packageDir, stdio: 'pipe' });
}

/** One line of a service's standard output: its JSON log record, or `{ msg, unparsed: true }`. */
export type LogLine = Record<string, unknown> & { msg?: string; level?: number };

/** How a service process ended. */
export interface ServiceExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** Options of {@link spawnService}. */
export interface SpawnServiceOptions {
  /** The script node runs, e.g. `dist/main.js`; relative paths resolve against `cwd`. */
  readonly main: string;
  /** The working directory, usually the package directory. */
  readonly cwd: string;
  /** The whole environment besides `PATH`: nothing else leaks in from the test runner. */
  readonly env: Record<string, string>;
  /** Options for node itself, before `main`, e.g. `['--import', 'tsx']`. */
  readonly nodeArgs?: readonly string[];
  /** Arguments after `main`. */
  readonly args?: readonly string[];
  /** What error messages call the process. Default `'the process'`. */
  readonly name?: string;
}

/** A running service, as {@link spawnService} returns it. */
export interface ServiceProcess {
  readonly child: ChildProcess;
  /** Every line of standard output so far, in order. */
  readonly logs: LogLine[];
  /** Standard error so far. */
  stderr(): string;
  /**
   * Resolves with the first log line (past or future) that matches; rejects after
   * `timeoutMs` (default 15 s) or when the process ends first, with the output so far.
   */
  waitForLog(match: (line: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
  /** Resolves once the process has exited and its output is fully read (`close`, not `exit`). */
  readonly exited: Promise<ServiceExit>;
  /** Sends `signal` (default SIGTERM) unless the process has ended already; resolves as {@link exited}. */
  stop(signal?: NodeJS.Signals): Promise<ServiceExit>;
}

/** Runs `node [nodeArgs] main [args]` with only `PATH` and `env` in its environment, collecting its JSON log lines. */
export function spawnService(options: SpawnServiceOptions): ServiceProcess {
  const { cwd, env, nodeArgs = [], args = [], name = 'the process' } = options;
  const main = isAbsolute(options.main) ? options.main : join(cwd, options.main);
  const child = spawn(process.execPath, [...nodeArgs, main, ...args], {
    cwd,
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
  // `close` rather than `exit`: only then are stdout and stderr fully read.
  const exited = new Promise<ServiceExit>((resolve) => {
    child.once('close', (code, signal) => resolve({ code, signal }));
  });
  const output = () => `logs:\n${logs.map((l) => JSON.stringify(l)).join('\n')}\nstderr:\n${stderr}`;

  return {
    child,
    logs,
    stderr: () => stderr,
    exited,
    stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
    waitForLog(match, timeoutMs = 15_000) {
      const found = logs.find(match);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(waiter);
          reject(new Error(`no matching log line from ${name} within ${timeoutMs} ms; ${output()}`));
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
          reject(new Error(`${name} exited before the awaited log line; ${output()}`));
        });
      });
    },
  };
}
