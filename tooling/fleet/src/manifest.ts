import { readFileSync } from 'node:fs';

/** `http`: serves its API, /metrics and /health on PORT; `worker`: serves /metrics and /health on METRICS_PORT. */
export type AppKind = 'http' | 'worker';

/** What an app needs in docker/compose.yml beyond what every app gets (Redis, the prefix, its port). */
export interface ComposeExtras {
  /** Environment variables; values may use compose's `${VAR:-default}` interpolation. */
  readonly environment?: Readonly<Record<string, string>>;
  /** Secrets declared under `secrets:` in docker/compose.yml (mounted at /run/secrets/<name>). */
  readonly secrets?: readonly string[];
  /** Volume mounts (`<named volume or path>:<container path>[:ro]`). */
  readonly volumes?: readonly string[];
  /** Services started before this one, besides Redis (which every app waits for, healthy). */
  readonly dependsOn?: readonly string[];
}

/** A setting read from a Kubernetes Secret: the Secret's name (its key is the variable's name). */
export interface SecretEnv {
  readonly secret: string;
  /** The app starts without it (the variable is then unset). */
  readonly optional?: boolean;
}

/** How a worker is scaled on Kubernetes (deploy/k8s): KEDA's bounds and the backlog one replica works. */
export interface KubernetesScaling {
  readonly minReplicas?: number;
  readonly maxReplicas?: number;
  /** Jobs waiting to start (waiting and prioritized; for the dead-letter queue, dead letters per second) one replica is sized for. */
  readonly backlogPerReplica?: number;
  /** The oldest waiting job's age, in seconds, above which the worker scales out. */
  readonly oldestWaitingSeconds?: number;
}

/** What an app needs in deploy/k8s beyond what every app gets (see tooling/fleet/src/kubernetes.ts). */
export interface KubernetesExtras {
  /** Plain settings (never secrets). */
  readonly env?: Readonly<Record<string, string>>;
  /** Settings taken from a Secret by reference (secretKeyRef). */
  readonly secretEnv?: Readonly<Record<string, SecretEnv>>;
  /** `X_FILE` variables: the Secret mounted at /run/secrets/<secret> (its key of the same name). */
  readonly secretFiles?: Readonly<Record<string, string>>;
  /** Shared volumes: claim name → mount path (the claim is a ReadWriteMany PersistentVolumeClaim). */
  readonly volumes?: Readonly<Record<string, string>>;
  readonly resources?: {
    readonly requests?: { readonly cpu?: string; readonly memory?: string };
    readonly limits?: { readonly cpu?: string; readonly memory?: string };
  };
  readonly scaling?: KubernetesScaling;
}

/** One app of apps/, as the fleet runs it. */
export interface FleetApp {
  /** Its directory under apps/; also its compose service, its Prometheus job and its image name. */
  readonly name: string;
  readonly kind: AppKind;
  /** The default of PORT (http) or METRICS_PORT (worker); compose and Prometheus use it. */
  readonly port: number;
  /** The owning team: Alertmanager routes the app's own alerts (service down) to it. */
  readonly team: string;
  /** The queues it works (workers); each queue is worked by one app. */
  readonly queues: readonly string[];
  /**
   * An app that runs only where it is configured: the environment variable
   * that turns it on (the http-worker's `HTTP_WORKER_QUEUES`). `pnpm start`
   * starts it only when that variable is set; compose puts it behind the
   * profile named after the app. Its queues come from that configuration, so
   * `queues` may be empty.
   */
  readonly enabledBy?: string;
  /**
   * Node options the app runs with everywhere: `pnpm start` passes them to
   * `node`, compose and Kubernetes set them as `NODE_OPTIONS` (the gateway's
   * larger young generation, measured in `pnpm bench`). Each must be one that
   * Node accepts in `NODE_OPTIONS`.
   */
  readonly nodeOptions?: readonly string[];
  readonly compose?: ComposeExtras;
  readonly kubernetes?: KubernetesExtras;
}

/** fleet.json: what the fleet runs. */
export interface Fleet {
  readonly apps: readonly FleetApp[];
}

/** fleet.json is not valid; `problems` lists every mistake, each with its JSON path. */
export class FleetManifestError extends Error {
  readonly problems: readonly string[];

  constructor(source: string, problems: readonly string[]) {
    super(`${source} is not a valid fleet manifest:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'FleetManifestError';
    this.problems = problems;
  }
}

const KEBAB = /^[a-z][a-z0-9]*(-[a-z0-9]+)*$/;
const ENV_NAME = /^[A-Z_][A-Z0-9_]*$/;
const APP_KEYS = new Set([
  'name',
  'kind',
  'port',
  'team',
  'queues',
  'enabledBy',
  'nodeOptions',
  'compose',
  'kubernetes',
]);
/** One Node option, as `NODE_OPTIONS` carries it: `--name` or `--name=value`, no spaces. */
const NODE_OPTION = /^--[a-z][a-z0-9-]*(=\S+)?$/;
const KUBERNETES_KEYS = new Set(['env', 'secretEnv', 'secretFiles', 'volumes', 'resources', 'scaling']);
const SCALING_KEYS = new Set(['minReplicas', 'maxReplicas', 'backlogPerReplica', 'oldestWaitingSeconds']);
const COMPOSE_KEYS = new Set(['environment', 'secrets', 'volumes', 'dependsOn']);
/** Set for every app from `kind`, `port` and `nodeOptions`, or by the compose template: not for fleet.json to set. */
const RESERVED_ENV = new Set([
  'PORT',
  'METRICS_PORT',
  'REDIS_URL',
  'JOBFLEET_PREFIX',
  'HOST',
  'NODE_OPTIONS',
]);

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);
const shown = (value: unknown) => JSON.stringify(value) ?? String(value);

function stringList(value: unknown, at: string, problems: string[], pattern?: RegExp): string[] {
  if (!Array.isArray(value)) {
    problems.push(`${at}: must be an array of strings (got ${shown(value)})`);
    return [];
  }
  const seen = new Set<string>();
  value.forEach((item, i) => {
    if (typeof item !== 'string' || item.length === 0) {
      problems.push(`${at}[${i}]: must be a non-empty string (got ${shown(item)})`);
    } else if (pattern && !pattern.test(item)) {
      problems.push(`${at}[${i}]: "${item}" must be kebab-case (e.g. "daily-reports")`);
    } else if (seen.has(item)) {
      problems.push(`${at}[${i}]: "${item}" is listed twice`);
    }
    if (typeof item === 'string') seen.add(item);
  });
  return value.filter((item): item is string => typeof item === 'string');
}

function checkCompose(value: unknown, at: string, problems: string[]): void {
  if (!isObject(value)) {
    problems.push(`${at}: must be an object (got ${shown(value)})`);
    return;
  }
  for (const key of Object.keys(value)) {
    if (!COMPOSE_KEYS.has(key)) {
      problems.push(`${at}.${key}: unknown field (known: ${[...COMPOSE_KEYS].join(', ')})`);
    }
  }
  if (value.environment !== undefined) {
    if (!isObject(value.environment)) {
      problems.push(`${at}.environment: must be an object of strings`);
    } else {
      for (const [name, setting] of Object.entries(value.environment)) {
        if (!ENV_NAME.test(name))
          problems.push(`${at}.environment.${name}: not an environment variable name`);
        else if (RESERVED_ENV.has(name)) {
          problems.push(
            `${at}.environment.${name}: set for every app from its kind, port and nodeOptions; remove it`,
          );
        }
        if (typeof setting !== 'string') {
          problems.push(`${at}.environment.${name}: must be a string (got ${shown(setting)})`);
        }
      }
    }
  }
  for (const key of ['secrets', 'volumes', 'dependsOn'] as const) {
    if (value[key] !== undefined) stringList(value[key], `${at}.${key}`, problems);
  }
}

function checkKubernetes(value: unknown, app: Record<string, unknown>, at: string, problems: string[]): void {
  if (!isObject(value)) {
    problems.push(`${at}: must be an object (got ${shown(value)})`);
    return;
  }
  for (const key of Object.keys(value)) {
    if (!KUBERNETES_KEYS.has(key)) {
      problems.push(`${at}.${key}: unknown field (known: ${[...KUBERNETES_KEYS].join(', ')})`);
    }
  }
  const envNames = (field: string): [string, unknown][] => {
    const map = value[field];
    if (map === undefined) return [];
    if (!isObject(map)) {
      problems.push(`${at}.${field}: must be an object`);
      return [];
    }
    for (const name of Object.keys(map)) {
      if (!ENV_NAME.test(name)) problems.push(`${at}.${field}.${name}: not an environment variable name`);
      else if (RESERVED_ENV.has(name) || name === 'SHUTDOWN_TIMEOUT_MS') {
        problems.push(`${at}.${field}.${name}: set for every app by the generator; remove it`);
      }
    }
    return Object.entries(map);
  };
  for (const [name, setting] of envNames('env')) {
    if (typeof setting !== 'string')
      problems.push(`${at}.env.${name}: must be a string (got ${shown(setting)})`);
  }
  for (const [name, setting] of envNames('secretEnv')) {
    if (!isObject(setting) || typeof setting.secret !== 'string' || !KEBAB.test(setting.secret)) {
      problems.push(
        `${at}.secretEnv.${name}: must be { "secret": "<kebab-case Secret name>", "optional"?: boolean }`,
      );
    } else if (setting.optional !== undefined && typeof setting.optional !== 'boolean') {
      problems.push(`${at}.secretEnv.${name}.optional: must be true or false`);
    }
  }
  for (const [name, secret] of envNames('secretFiles')) {
    if (!name.endsWith('_FILE')) problems.push(`${at}.secretFiles.${name}: must end in _FILE`);
    if (typeof secret !== 'string' || !KEBAB.test(secret)) {
      problems.push(`${at}.secretFiles.${name}: must name a kebab-case Secret (got ${shown(secret)})`);
    }
  }
  if (value.volumes !== undefined) {
    if (!isObject(value.volumes))
      problems.push(`${at}.volumes: must be an object of claim name → mount path`);
    else {
      for (const [claim, path] of Object.entries(value.volumes)) {
        if (!KEBAB.test(claim)) problems.push(`${at}.volumes.${claim}: the claim name must be kebab-case`);
        if (typeof path !== 'string' || !path.startsWith('/')) {
          problems.push(`${at}.volumes.${claim}: must be an absolute mount path (got ${shown(path)})`);
        }
      }
    }
  }
  if (value.resources !== undefined && !isObject(value.resources)) {
    problems.push(`${at}.resources: must be an object ({ requests?, limits? })`);
  }
  if (value.scaling !== undefined) {
    if (app.kind !== 'worker') problems.push(`${at}.scaling: only workers are scaled on their backlog`);
    if (!isObject(value.scaling)) problems.push(`${at}.scaling: must be an object`);
    else {
      for (const [key, number] of Object.entries(value.scaling)) {
        if (!SCALING_KEYS.has(key)) {
          problems.push(`${at}.scaling.${key}: unknown field (known: ${[...SCALING_KEYS].join(', ')})`);
        } else if (
          typeof number !== 'number' ||
          !(number >= 0) ||
          (key.endsWith('Replicas') && !Number.isInteger(number))
        ) {
          problems.push(`${at}.scaling.${key}: must be a number of 0 or more (got ${shown(number)})`);
        }
      }
      const { minReplicas, maxReplicas } = value.scaling;
      if (
        typeof minReplicas === 'number' &&
        typeof maxReplicas === 'number' &&
        maxReplicas < Math.max(1, minReplicas)
      ) {
        problems.push(`${at}.scaling: maxReplicas must be at least minReplicas and 1`);
      }
    }
  }
}

/**
 * Checks a parsed fleet.json and returns it typed. Throws a
 * {@link FleetManifestError} naming every problem: unknown or missing fields,
 * names that are not kebab-case, a kind other than http or worker, ports out
 * of range, and duplicate app names, ports or queues.
 */
export function parseFleet(data: unknown, source = 'fleet.json'): Fleet {
  const problems: string[] = [];
  if (!isObject(data) || !Array.isArray(data.apps)) {
    throw new FleetManifestError(source, ['the top level must be an object with an "apps" array']);
  }
  for (const key of Object.keys(data)) {
    if (key !== 'apps' && key !== '$comment' && key !== '$schema') {
      problems.push(`${key}: unknown field (known: apps, $comment)`);
    }
  }
  const names = new Map<string, string>();
  const ports = new Map<number, string>();
  const queues = new Map<string, string>();
  data.apps.forEach((app: unknown, i: number) => {
    const at = `apps[${i}]`;
    if (!isObject(app)) {
      problems.push(`${at}: must be an object`);
      return;
    }
    for (const key of Object.keys(app)) {
      if (!APP_KEYS.has(key))
        problems.push(`${at}.${key}: unknown field (known: ${[...APP_KEYS].join(', ')})`);
    }
    const label = typeof app.name === 'string' ? `${at} (${app.name})` : at;
    if (typeof app.name !== 'string' || !KEBAB.test(app.name)) {
      problems.push(`${at}.name: must be a kebab-case directory name under apps/ (got ${shown(app.name)})`);
    } else if (names.has(app.name)) {
      problems.push(`${label}.name: "${app.name}" is also ${names.get(app.name)}`);
    } else {
      names.set(app.name, at);
    }
    if (app.kind !== 'http' && app.kind !== 'worker') {
      problems.push(`${label}.kind: must be "http" or "worker" (got ${shown(app.kind)})`);
    }
    if (typeof app.port !== 'number' || !Number.isInteger(app.port) || app.port < 1 || app.port > 65_535) {
      problems.push(`${label}.port: must be an integer from 1 to 65535 (got ${shown(app.port)})`);
    } else if (ports.has(app.port)) {
      problems.push(`${label}.port: ${app.port} is also the port of ${ports.get(app.port)}`);
    } else {
      ports.set(app.port, label);
    }
    if (typeof app.team !== 'string' || !KEBAB.test(app.team)) {
      problems.push(`${label}.team: must be a kebab-case team name (got ${shown(app.team)})`);
    }
    for (const queue of stringList(app.queues, `${label}.queues`, problems, KEBAB)) {
      const other = queues.get(queue);
      if (other && other !== label) problems.push(`${label}.queues: "${queue}" is also worked by ${other}`);
      queues.set(queue, label);
    }
    if (app.enabledBy !== undefined && (typeof app.enabledBy !== 'string' || !ENV_NAME.test(app.enabledBy))) {
      problems.push(`${label}.enabledBy: must be an environment variable name (got ${shown(app.enabledBy)})`);
    }
    if (app.nodeOptions !== undefined) {
      stringList(app.nodeOptions, `${label}.nodeOptions`, problems);
      (Array.isArray(app.nodeOptions) ? app.nodeOptions : []).forEach((option: unknown, k) => {
        if (typeof option === 'string' && option !== '' && !NODE_OPTION.test(option))
          problems.push(
            `${label}.nodeOptions[${k}]: "${option}" is not a Node option (--name or --name=value)`,
          );
      });
    }
    if (app.compose !== undefined) checkCompose(app.compose, `${label}.compose`, problems);
    if (app.kubernetes !== undefined) checkKubernetes(app.kubernetes, app, `${label}.kubernetes`, problems);
  });
  if (problems.length > 0) throw new FleetManifestError(source, problems);
  return data as unknown as Fleet;
}

/** Reads and checks a fleet.json file (see {@link parseFleet}). */
export function readFleet(path: string): Fleet {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new FleetManifestError(path, [`cannot read it: ${(error as Error).message}`]);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    throw new FleetManifestError(path, [`not JSON: ${(error as Error).message}`]);
  }
  return parseFleet(data, path);
}

/** The variable of the port that serves an app's /metrics and /health. */
export const portVariable = (app: FleetApp): 'PORT' | 'METRICS_PORT' =>
  app.kind === 'http' ? 'PORT' : 'METRICS_PORT';

/** Every team that owns an app, sorted. */
export const teamsOf = (fleet: Fleet): string[] => [...new Set(fleet.apps.map((app) => app.team))].sort();

/** The app that works each queue. */
export const workerOfQueue = (fleet: Fleet): Map<string, FleetApp> =>
  new Map(fleet.apps.flatMap((app) => app.queues.map((queue) => [queue, app] as const)));
