import type { FleetApp } from './manifest.js';

/** One process of the local fleet, derived from its manifest entry. */
export interface FleetService {
  readonly name: string;
  readonly kind: FleetApp['kind'];
  /** The entrypoint, relative to the repository root: `apps/<name>/dist/main.js`. */
  readonly main: string;
  /** The manifest's `nodeOptions`, given to `node` before `main`. */
  readonly nodeOptions: readonly string[];
  /** The env key the app reads its HTTP port from. */
  readonly portKey: 'PORT' | 'METRICS_PORT';
  /** Where `pnpm start` reads an override of that port: `<NAME>_PORT` or `<NAME>_METRICS_PORT`. */
  readonly overrideKey: string;
  readonly defaultPort: number;
  /** What the banner prints for it once it is ready. */
  describe(url: string): string;
}

/** Banner lines of apps whose entry page is not their root; every other app gets a generic one. */
const DESCRIPTIONS: Record<string, (url: string) => string> = {
  gateway: (url) => `HTTP API ${url}/v1  (metrics ${url}/metrics)`,
  dashboard: (url) => `dashboard ${url}/  (queues ${url}/admin/queues)`,
};

/** `email-worker` → `EMAIL_WORKER`. */
export function envName(name: string): string {
  return name.toUpperCase().replaceAll('-', '_');
}

/**
 * The fleet's services in start order: HTTP apps first (the gateway before the
 * dashboard, as the manifest lists them), then the workers.
 */
export function fleetServices(apps: readonly FleetApp[]): FleetService[] {
  const ordered = [
    ...apps.filter((app) => app.kind === 'http'),
    ...apps.filter((app) => app.kind === 'worker'),
  ];
  return ordered.map((app) => {
    const portKey = app.kind === 'http' ? 'PORT' : 'METRICS_PORT';
    return {
      name: app.name,
      kind: app.kind,
      main: `apps/${app.name}/dist/main.js`,
      nodeOptions: app.nodeOptions ?? [],
      portKey,
      overrideKey: `${envName(app.name)}_${portKey}`,
      defaultPort: app.port,
      describe:
        DESCRIPTIONS[app.name] ??
        (app.kind === 'http'
          ? (url) => `${url}/  (metrics ${url}/metrics)`
          : (url) => `metrics ${url}/metrics, health ${url}/health/ready`),
    };
  });
}

/** The port a service listens on: its override variable when set, else the manifest's port. */
export function servicePort(service: FleetService, env: NodeJS.ProcessEnv): number {
  const raw = env[service.overrideKey];
  if (raw === undefined || raw === '') return service.defaultPort;
  const port = Number(raw);
  if (!/^\d+$/.test(raw) || port < 1 || port > 65_535)
    throw new Error(`${service.overrideKey} must be a port number from 1 to 65535, not "${raw}"`);
  return port;
}
