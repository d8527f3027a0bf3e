import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach } from 'vitest';
import { type ServiceProcess, type SpawnServiceOptions, spawnService } from './service-process.js';

/** Options of {@link useServiceProcesses}. */
export interface ServiceProcessesOptions {
  /** The package directory, as a path or a `file:` URL (`new URL('..', import.meta.url)` from `test/`). */
  readonly packageDir: string | URL;
  /** The script to run, relative to the package. Default `dist/main.js`. */
  readonly main?: string;
  /** What error messages call the process, e.g. `'the worker'`. */
  readonly name?: string;
  /** Environment every process gets, under the `env` of each spawn. */
  readonly env?: Readonly<Record<string, string>>;
}

/** What {@link useServiceProcesses} returns. */
export interface ServiceProcesses {
  /** The package directory, as a path. */
  readonly packageDir: string;
  /**
   * Runs the package's entrypoint (see {@link spawnService}) with only `PATH`,
   * the shared `env` and `env` here in its environment; `overrides` run another
   * script of the package, or through a loader (`nodeArgs: ['--import', 'tsx']`).
   */
  spawn(
    env?: Readonly<Record<string, string>>,
    overrides?: Partial<Pick<SpawnServiceOptions, 'main' | 'nodeArgs' | 'args' | 'name'>>,
  ): ServiceProcess;
}

/**
 * Process tests of a package's real entrypoint, for the test file that calls
 * it: every process it spawns and that is still running after a test is killed
 * (SIGKILL) and awaited, so no test leaves one behind. Build `dist/` first with
 * the `@jobfleet/test-utils/build-setup` global setup (or {@link ensureBuilt}).
 */
export function useServiceProcesses(options: ServiceProcessesOptions): ServiceProcesses {
  const packageDir =
    options.packageDir instanceof URL ? fileURLToPath(options.packageDir) : options.packageDir;
  const running = new Set<ServiceProcess>();
  afterEach(async () => {
    const left = [...running];
    running.clear();
    await Promise.all(left.map((proc) => proc.stop('SIGKILL')));
  });
  return {
    packageDir,
    spawn(env = {}, overrides = {}) {
      const proc = spawnService({
        ...(options.name === undefined ? {} : { name: options.name }),
        ...overrides,
        main: overrides.main ?? options.main ?? join('dist', 'main.js'),
        cwd: packageDir,
        env: { ...options.env, ...env },
      });
      running.add(proc);
      return proc;
    },
  };
}
