import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import nodePlop, { type ActionType } from 'node-plop';
import {
  camelCase,
  identifierProblem,
  jobNamesProblem,
  pascalCase,
  queueNameProblem,
  teamNameProblem,
} from './names.js';
import { type FleetManifest, nextWorkerPort, paths, readExisting, readManifest } from './workspace.js';

const TEMPLATES = fileURLToPath(new URL('../templates/', import.meta.url));

export interface NewWorkerRequest {
  queue: string;
  jobs: string[];
  team: string;
}

/** A request the generator refuses, with the message a user reads. */
export class NewWorkerError extends Error {
  override name = 'NewWorkerError';
}

/** Every reason `request` cannot be generated in `root`, or none. */
export function problemsWith(root: string, request: NewWorkerRequest): string[] {
  const existing = readExisting(root);
  const problems = [
    queueNameProblem(request.queue, existing),
    jobNamesProblem(request.jobs),
    // A team defaulted to the queue's name is judged with the queue.
    request.team === request.queue ? undefined : teamNameProblem(request.team),
  ].filter((problem): problem is string => problem !== undefined);
  if (problems.length === 0) {
    const clash = identifierProblem(request.queue, request.jobs, existing);
    if (clash) problems.push(clash);
  }
  return problems;
}

export interface GenerateOptions {
  root: string;
  /**
   * Run `pnpm install`, `pnpm fleet:generate`, `pnpm docs:config` (the app's `.env.example`, the
   * README's configuration tables) and biome on the result (the CLI does; unit tests do not).
   */
  finish?: boolean;
  log?: (line: string) => void;
}

export interface Generated {
  app: string;
  port: number;
  /** Files created or changed, relative to the root. */
  files: string[];
}

/**
 * Adds a queue and its worker: the contract (registered in the catalog and the
 * package's index), `apps/<queue>-worker`, and its line in fleet.json with the
 * next free metrics port. Refuses, changing nothing, when a name is bad.
 */
export async function generateWorker(
  request: NewWorkerRequest,
  options: GenerateOptions,
): Promise<Generated> {
  const { root } = options;
  const log = options.log ?? (() => {});
  const problems = problemsWith(root, request);
  if (problems.length > 0) throw new NewWorkerError(problems.join('\n'));

  const manifest = readManifest(root);
  const port = nextWorkerPort(manifest);
  const app = `${request.queue}-worker`;
  const data = {
    queue: request.queue,
    queueCamel: camelCase(request.queue),
    queuePascal: pascalCase(request.queue),
    team: request.team,
    app,
    port,
    firstJob: request.jobs[0],
    jobs: request.jobs.map((name) => ({ name, pascal: pascalCase(name) })),
  };
  const contractFile = `packages/queue-contracts/src/${request.queue}.ts`;
  const key = /^[a-z][a-z0-9]*$/.test(request.queue) ? request.queue : `'${request.queue}'`;
  const entry = key === data.queueCamel ? key : `${key}: ${data.queueCamel}`;

  const plop = await nodePlop(undefined, { destBasePath: root, force: false });
  const actions: ActionType[] = [
    { type: 'add', path: contractFile, templateFile: join(TEMPLATES, 'contract.ts.hbs'), abortOnFail: true },
    {
      type: 'modify',
      path: 'packages/queue-contracts/src/catalog.ts',
      pattern: /(import \{ [^}]+ \} from '\.\/[^']+\.js';\n)(?!import)/,
      template: `$1import { {{queueCamel}} } from './{{queue}}.js';\n`,
    },
    {
      type: 'modify',
      path: 'packages/queue-contracts/src/catalog.ts',
      pattern: /(export const catalog = \{)([^}]*?)\s*(\} as const;)/,
      template: `$1$2, ${entry} $3`,
    },
    {
      type: 'append',
      path: 'packages/queue-contracts/src/index.ts',
      template: `export * from './{{queue}}.js';`,
      unique: true,
      separator: '',
      pattern: /$(?![\s\S])/,
    },
    {
      type: 'addMany',
      destination: `apps/${app}`,
      base: join(TEMPLATES, 'app'),
      templateFiles: join(TEMPLATES, 'app', '**', '*'),
      stripExtensions: ['hbs'],
      globOptions: { dot: true },
      abortOnFail: true,
    },
    () => {
      const next: FleetManifest = {
        ...manifest,
        apps: [
          ...manifest.apps,
          { name: app, kind: 'worker', port, team: request.team, queues: [request.queue] },
        ],
      };
      writeFileSync(paths(root).manifest, `${JSON.stringify(next, null, 2)}\n`);
      return 'fleet.json';
    },
  ];
  plop.setGenerator('new-worker', { description: 'a queue and its worker', prompts: [], actions });
  const result = await plop.getGenerator('new-worker').runActions(data);
  if (result.failures.length > 0) {
    throw new NewWorkerError(
      result.failures.map((failure) => `${failure.path}: ${failure.error}`).join('\n'),
    );
  }
  const files = [
    contractFile,
    'packages/queue-contracts/src/catalog.ts',
    'packages/queue-contracts/src/index.ts',
    `apps/${app}`,
    'fleet.json',
  ];
  for (const file of files) log(`  wrote ${file}`);

  if (options.finish) {
    const run = (cmd: string, args: string[]) => {
      log(`  $ ${cmd} ${args.join(' ')}`);
      const step = spawnSync(cmd, args, { cwd: root, stdio: 'inherit' });
      if (step.status !== 0)
        throw new NewWorkerError(`${cmd} ${args.join(' ')} failed (exit ${step.status})`);
    };
    // Links the new app into the workspace: a new importer in the lockfile (CI defaults to a frozen
    // one), whose dependencies are all in the store already.
    run('pnpm', ['install', '--no-frozen-lockfile', '--prefer-offline']);
    run('pnpm', ['run', 'fleet:generate']);
    // From the app's config spec (read from its source: nothing needs building first).
    run('pnpm', ['run', 'docs:config']);
    run('pnpm', ['exec', 'biome', 'check', '--write', ...files, 'README.md']);
  }
  return { app, port, files };
}
