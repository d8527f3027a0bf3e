import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureBuilt as buildPackage, type ServiceProcess, spawnService } from '@jobfleet/test-utils';

export type { LogLine } from '@jobfleet/test-utils';

export const PACKAGE_DIR = fileURLToPath(new URL('..', import.meta.url));
export const MAIN = join(PACKAGE_DIR, 'dist', 'main.js');
export const HASH_PASSWORD = join(PACKAGE_DIR, 'dist', 'hash-password.js');

/**
 * Builds `dist/` when it is missing or older than `src/`: turbo's `test` task
 * may run before this package's own build, and a stale `dist/` would test old code.
 */
export function ensureBuilt(): void {
  buildPackage(PACKAGE_DIR, { outputs: ['dist/main.js', 'dist/hash-password.js'] });
}

export type DashboardProcess = ServiceProcess;

/** Runs `node dist/main.js` with only `PATH` and `env` in its environment. */
export function spawnDashboard(env: Record<string, string>): DashboardProcess {
  return spawnService({ main: MAIN, cwd: PACKAGE_DIR, env, name: 'the dashboard' });
}

/** The base URL the dashboard logged as listening on. */
export async function listeningUrl(dashboard: DashboardProcess): Promise<string> {
  const line = await dashboard.waitForLog((l) => l.msg === 'dashboard listening');
  return String(line.url).replace('0.0.0.0', '127.0.0.1');
}
