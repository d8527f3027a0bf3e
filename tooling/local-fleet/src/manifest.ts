import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** What `pnpm start` reads of one app in `fleet.json`; other fields belong to other tools. */
export interface FleetApp {
  /** The folder under `apps/`, kebab-case. */
  readonly name: string;
  /** `http` serves on `PORT`; `worker` serves `/metrics` and `/health/*` on `METRICS_PORT`. */
  readonly kind: 'http' | 'worker';
  /** Its default port. */
  readonly port: number;
  /** Run only when this environment variable is set (the http-worker's `HTTP_WORKER_QUEUES`). */
  readonly enabledBy?: string;
  /** Options for `node` itself, given before the entrypoint (`--max-semi-space-size=32`). */
  readonly nodeOptions?: readonly string[];
}

/** Whether `pnpm start` runs `app` under `env`: always, unless its `enabledBy` variable is unset or empty. */
export const isEnabled = (app: FleetApp, env: NodeJS.ProcessEnv): boolean =>
  app.enabledBy === undefined || Boolean(env[app.enabledBy]?.trim());

const NAME = /^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$/;

/**
 * The apps listed in `<root>/fleet.json`, in the manifest's order. Throws one
 * message naming every entry that cannot be run.
 */
export function readFleetManifest(root: string): FleetApp[] {
  const path = join(root, 'fleet.json');
  let manifest: unknown;
  try {
    manifest = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new Error(`cannot read the fleet manifest ${path}: ${(error as Error).message}`);
  }
  return parseFleetManifest(manifest, path);
}

/** {@link readFleetManifest} on an already parsed document; `source` names it in errors. */
export function parseFleetManifest(manifest: unknown, source = 'fleet.json'): FleetApp[] {
  const apps = (manifest as { apps?: unknown } | null)?.apps;
  if (!Array.isArray(apps)) throw new Error(`${source}: "apps" must be an array`);
  const problems: string[] = [];
  const seen = new Set<string>();
  const result: FleetApp[] = [];
  apps.forEach((entry: unknown, index) => {
    const { name, kind, port, enabledBy, nodeOptions } = (entry ?? {}) as Record<string, unknown>;
    const where = `apps[${index}]${typeof name === 'string' ? ` (${name})` : ''}`;
    const before = problems.length;
    if (typeof name !== 'string' || !NAME.test(name)) problems.push(`${where}: "name" must be kebab-case`);
    else if (seen.has(name)) problems.push(`${where}: "name" is listed twice`);
    if (kind !== 'http' && kind !== 'worker') problems.push(`${where}: "kind" must be "http" or "worker"`);
    if (!Number.isInteger(port) || (port as number) < 1 || (port as number) > 65_535)
      problems.push(`${where}: "port" must be an integer from 1 to 65535`);
    if (enabledBy !== undefined && (typeof enabledBy !== 'string' || !/^[A-Z_][A-Z0-9_]*$/.test(enabledBy)))
      problems.push(`${where}: "enabledBy" must be an environment variable name`);
    if (
      nodeOptions !== undefined &&
      !(Array.isArray(nodeOptions) && nodeOptions.every((o) => typeof o === 'string' && o.startsWith('--')))
    )
      problems.push(`${where}: "nodeOptions" must be an array of Node options ("--name" or "--name=value")`);
    if (problems.length > before) return;
    seen.add(name as string);
    result.push({
      name: name as string,
      kind: kind as FleetApp['kind'],
      port: port as number,
      ...(typeof enabledBy === 'string' ? { enabledBy } : {}),
      ...(Array.isArray(nodeOptions) ? { nodeOptions: nodeOptions as string[] } : {}),
    });
  });
  if (problems.length > 0) throw new Error(`${source}: ${problems.join('; ')}`);
  return result;
}
