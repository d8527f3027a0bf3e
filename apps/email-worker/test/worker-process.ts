import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureBuilt as buildPackage, type ServiceProcess, spawnService } from '@jobfleet/test-utils';

export type { LogLine } from '@jobfleet/test-utils';

export const PACKAGE_DIR = fileURLToPath(new URL('..', import.meta.url));
const MAIN = join(PACKAGE_DIR, 'dist', 'main.js');

/** Builds this package's `dist/` when it is missing or older than `src/`. */
export function ensureBuilt(): void {
  buildPackage(PACKAGE_DIR);
}

export type WorkerProcess = ServiceProcess;

/** Runs `node dist/main.js` with only `PATH` and `env` in its environment. */
export function spawnWorker(env: Record<string, string>): WorkerProcess {
  return spawnService({ main: MAIN, cwd: PACKAGE_DIR, env, name: 'the worker' });
}
