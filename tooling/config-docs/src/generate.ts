import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { commonConfig } from '@jobfleet/service-kit';
import { workerConfig } from '@jobfleet/worker-runtime';
import {
  defaultCell,
  docProblem,
  type KeyGroup,
  renderEnvExample,
  renderKeyTable,
  replaceMarked,
  type Spec,
} from './render.js';

/** The fields of a fleet.json entry read here. */
interface ManifestApp {
  readonly name: string;
  readonly kind: 'http' | 'worker';
}

/** An app of the fleet and every key it reads. */
export interface AppSpec extends ManifestApp {
  readonly spec: Spec;
  /** Where the spec comes from, relative to the repository root. */
  readonly module: string;
}

/**
 * Where each kind of app exports its spec: a worker's `src/worker.ts` its
 * `defineWorker` result as `worker` (whose `configSpec` holds every key), an
 * HTTP app's `src/config.ts` the spec itself as `configSpec`.
 */
export const SPEC_MODULES = {
  worker: {
    file: 'src/worker.ts',
    read: (module: Record<string, unknown>) =>
      (module.worker as { configSpec?: Spec } | undefined)?.configSpec,
  },
  http: {
    file: 'src/config.ts',
    read: (module: Record<string, unknown>) => module.configSpec as Spec | undefined,
  },
} as const;

/** The repository's root README, whose configuration tables are generated. */
export const README = 'README.md';
/** The root `.env.example`: the keys of every process, and those of `pnpm start`. */
export const ROOT_ENV_EXAMPLE = '.env.example';

/** The apps fleet.json lists, in its order. */
export function readManifestApps(root: string): ManifestApp[] {
  const manifest = JSON.parse(readFileSync(join(root, 'fleet.json'), 'utf8')) as { apps: ManifestApp[] };
  return manifest.apps.map(({ name, kind }) => ({ name, kind }));
}

/** Every app's spec, imported from its source (run under tsx, or vitest, with the `@jobfleet/source` condition). */
export async function loadAppSpecs(root: string): Promise<AppSpec[]> {
  return Promise.all(
    readManifestApps(root).map(async (app) => {
      const { file, read } = SPEC_MODULES[app.kind];
      const module = `apps/${app.name}/${file}`;
      const spec = read((await import(pathToFileURL(join(root, module)).href)) as Record<string, unknown>);
      if (!spec) {
        throw new Error(
          `${module} exports no config spec (${app.kind === 'worker' ? '`worker`, the result of defineWorker' : '`configSpec`'})`,
        );
      }
      return { ...app, spec, module };
    }),
  );
}

const COMMON_KEYS = new Set(Object.keys(commonConfig));
const WORKER_KEYS = new Set(
  Object.keys(workerConfig({ metricsPort: 0 })).filter((key) => !COMMON_KEYS.has(key)),
);
const isWorkerKey = (key: string) => WORKER_KEYS.has(key) || key.startsWith('WORKER_CONCURRENCY_');

const pick = (spec: Spec, keep: (key: string) => boolean): Spec =>
  Object.fromEntries(Object.entries(spec).filter(([key]) => keep(key)));

/** An app's keys grouped as the docs show them: every process's, every worker's, its own. */
export function groupsOf(app: AppSpec): KeyGroup[] {
  return [
    { title: 'Every jobfleet process', spec: pick(app.spec, (key) => COMMON_KEYS.has(key)) },
    { title: 'Every worker', spec: pick(app.spec, isWorkerKey) },
    {
      title: `The ${app.name}'s own`,
      spec: pick(app.spec, (key) => !COMMON_KEYS.has(key) && !isWorkerKey(key)),
    },
  ];
}

/** Every reason the specs cannot be documented: a key without a doc, a secret's example with a value. */
export function specProblems(apps: readonly AppSpec[]): string[] {
  return apps.flatMap((app) =>
    Object.entries(app.spec)
      .map(([key, variable]) => docProblem(key, variable))
      .filter((problem): problem is string => problem !== undefined)
      .map((problem) => `${app.module}: ${problem}`),
  );
}

const DURATIONS =
  'Durations are milliseconds, or a number with ms, s, m, h or d (250ms, 30s, 5m, 1h, 2d); sizes are bytes.';

function appEnvExample(app: AppSpec): string {
  return renderEnvExample(
    [
      `# ${app.name}: every key it reads, with its default; a commented-out key is unset by default.`,
      `# Written by \`pnpm docs:config\` from ${app.module}: edit the spec there, not this file.`,
      `# ${DURATIONS}`,
    ],
    groupsOf(app),
  );
}

/** The port overrides `pnpm start` reads (tooling/local-fleet), besides the keys of every process. */
function localFleetSpec(apps: readonly ManifestApp[], ports: Readonly<Record<string, string>>): Spec {
  const variable = (doc: string, defaultText: string) => ({
    parse: String,
    fallback: () => defaultText,
    doc,
    defaultText,
  });
  return {
    ...Object.fromEntries(
      apps.map((app) => {
        const portKey = app.kind === 'http' ? 'PORT' : 'METRICS_PORT';
        const key = `${app.name.toUpperCase().replaceAll('-', '_')}_${portKey}`;
        return [
          key,
          variable(`The ${app.name}'s \`${portKey}\` under \`pnpm start\`.`, ports[app.name] ?? ''),
        ];
      }),
    ),
    JOBFLEET_DATA_DIR: variable(
      'Where `pnpm start` keeps the development key, the dashboard password, the outbox, the reports and the Redis data.',
      '.data',
    ),
    JOBFLEET_LOCAL_REDIS_PORT: variable(
      'Where `pnpm start` looks for Redis, or starts its own, when `REDIS_URL` is unset.',
      '6379',
    ),
  };
}

function rootEnvExample(apps: readonly AppSpec[]): string {
  const ports = Object.fromEntries(
    apps.map((app) => [app.name, app.spec[app.kind === 'http' ? 'PORT' : 'METRICS_PORT']?.defaultText ?? '']),
  );
  return renderEnvExample(
    [
      '# jobfleet: the keys every process reads, and those of `pnpm start`, which passes its environment',
      "# through to every app, so any app's key (apps/<app>/.env.example) can be set here too.",
      '# Written by `pnpm docs:config` from the config specs: edit the specs, not this file.',
      `# ${DURATIONS}`,
    ],
    [
      { title: 'Every jobfleet process', spec: commonConfig },
      { title: 'pnpm start only', spec: localFleetSpec(apps, ports) },
    ],
  );
}

/** The README's generated tables: `config:common`, `config:worker` and `config:apps`. */
function readme(current: string, apps: readonly AppSpec[]): string {
  const workers = apps.filter((app) => app.kind === 'worker');
  const shared = pick(workerConfig({ metricsPort: 0 }), (key) => WORKER_KEYS.has(key));
  // A worker key whose default differs between workers is shown in each worker's own table.
  const perApp = new Set(
    Object.keys(shared).filter(
      (key) =>
        new Set(workers.map((app) => (app.spec[key] ? defaultCell(key, app.spec[key]) : undefined))).size > 1,
    ),
  );
  const sections = apps.map((app) => {
    const own = pick(
      app.spec,
      (key) => !COMMON_KEYS.has(key) && (!isWorkerKey(key) || perApp.has(key) || !WORKER_KEYS.has(key)),
    );
    return [
      `**${app.name}** ([.env.example](apps/${app.name}/.env.example), [${app.module.slice(app.name.length + 6)}](${app.module})):`,
      '',
      renderKeyTable(own),
    ].join('\n');
  });
  let text = replaceMarked(current, 'common', renderKeyTable(commonConfig), README);
  text = replaceMarked(
    text,
    'worker',
    renderKeyTable(shared, Object.fromEntries([...perApp].map((key) => [key, "the app's (below)"]))),
    README,
  );
  return replaceMarked(text, 'apps', sections.join('\n\n'), README);
}

/** One generated file: what it holds now and what the specs say it should hold. */
export interface Planned {
  readonly path: string;
  readonly current: string | undefined;
  readonly expected: string;
}

/** Every file `pnpm docs:config` writes, with its current and expected text; writes nothing. */
export function plan(root: string, apps: readonly AppSpec[]): Planned[] {
  const read = (path: string) => {
    try {
      return readFileSync(join(root, path), 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  };
  const readmeText = read(README);
  if (readmeText === undefined) throw new Error(`${README} is missing`);
  return [
    ...apps.map((app) => {
      const path = `apps/${app.name}/.env.example`;
      return { path, current: read(path), expected: appEnvExample(app) };
    }),
    { path: ROOT_ENV_EXAMPLE, current: read(ROOT_ENV_EXAMPLE), expected: rootEnvExample(apps) },
    { path: README, current: readmeText, expected: readme(readmeText, apps) },
  ];
}

/** Writes every generated file that differs; returns the paths written. */
export function writePlanned(root: string, planned: readonly Planned[]): string[] {
  const changed = planned.filter((file) => file.current !== file.expected);
  for (const file of changed) writeFileSync(join(root, file.path), file.expected);
  return changed.map((file) => file.path);
}
