import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Existing } from './names.js';

/** The part of fleet.json the generator reads and extends. */
export interface FleetManifest {
  apps: Array<{ name: string; kind: 'http' | 'worker'; port: number; team: string; queues: string[] }>;
  [key: string]: unknown;
}

/** The first worker metrics port (ARCHITECTURE.md: email-worker 9101, report-worker 9102, …). */
const FIRST_WORKER_PORT = 9101;

export const paths = (root: string) => ({
  manifest: join(root, 'fleet.json'),
  contracts: join(root, 'packages', 'queue-contracts', 'src'),
  apps: join(root, 'apps'),
});

export function readManifest(root: string): FleetManifest {
  return JSON.parse(readFileSync(paths(root).manifest, 'utf8')) as FleetManifest;
}

/** The queues, apps and contract exports that exist now, read from the sources (no build needed). */
export function readExisting(root: string): Existing {
  const { contracts, apps } = paths(root);
  const queues = new Set<string>();
  const exports = new Set<string>();
  for (const file of readdirSync(contracts).filter((name) => name.endsWith('.ts'))) {
    const source = readFileSync(join(contracts, file), 'utf8');
    for (const match of source.matchAll(/defineQueue\(\{\s*name:\s*'([^']+)'/g))
      queues.add(match[1] as string);
    for (const match of source.matchAll(
      /export\s+(?:const|function|class|type|interface|enum)\s+([A-Za-z_$][\w$]*)/g,
    )) {
      exports.add(match[1] as string);
    }
  }
  const appNames = new Set(
    readdirSync(apps, { withFileTypes: true })
      .filter((entry) => entry.isDirectory() && existsSync(join(apps, entry.name, 'package.json')))
      .map((entry) => entry.name),
  );
  for (const app of readManifest(root).apps) appNames.add(app.name);
  return { queues, apps: appNames, exports };
}

/** The lowest worker port above every port the fleet uses. */
export function nextWorkerPort(manifest: FleetManifest): number {
  const used = manifest.apps.filter((app) => app.kind === 'worker').map((app) => app.port);
  let port = Math.max(FIRST_WORKER_PORT - 1, ...used) + 1;
  const taken = new Set(manifest.apps.map((app) => app.port));
  while (taken.has(port)) port += 1;
  return port;
}
