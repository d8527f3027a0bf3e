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

export type NodeProcess = ServiceProcess;

/** The DLQ processor's real entrypoint, `node dist/main.js`. */
export function spawnProcessor(env: Record<string, string>): NodeProcess {
  return spawnService({ main: MAIN, cwd: PACKAGE_DIR, env, name: 'the DLQ processor' });
}

/** `test/failing-worker.ts`: a worker process whose every job fails (see there). */
export function spawnFailingWorker(env: Record<string, string>): NodeProcess {
  return spawnService({
    main: join(PACKAGE_DIR, 'test', 'failing-worker.ts'),
    nodeArgs: ['--import', 'tsx'],
    cwd: PACKAGE_DIR,
    env,
    name: 'the failing worker',
  });
}

/** Ends a child that is still running (SIGKILL) and waits for it. */
export async function reap(proc: NodeProcess): Promise<void> {
  if (proc.child.exitCode === null && proc.child.signalCode === null) proc.child.kill('SIGKILL');
  await proc.exited;
}
