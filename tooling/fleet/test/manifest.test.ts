import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  FleetManifestError,
  parseFleet,
  portVariable,
  readFleet,
  teamsOf,
  workerOfQueue,
} from '../src/index.js';

const worker = (overrides: Record<string, unknown> = {}) => ({
  name: 'invoice-worker',
  kind: 'worker',
  port: 9104,
  team: 'billing',
  queues: ['invoices'],
  ...overrides,
});

function problemsOf(data: unknown): readonly string[] {
  try {
    parseFleet(data);
  } catch (error) {
    expect(error).toBeInstanceOf(FleetManifestError);
    return (error as FleetManifestError).problems;
  }
  throw new Error('parseFleet accepted it');
}

describe('parseFleet', () => {
  it('names the mistakes of a kubernetes section', () => {
    expect(
      problemsOf({
        apps: [
          worker({
            kubernetes: {
              env: { PORT: '1' },
              secretEnv: { SMTP_URL: { secret: 'Smtp' } },
              secretFiles: { GATEWAY_API_KEYS: 'gateway-api-keys' },
              volumes: { reports: 'relative' },
              scaling: { maxReplicas: 0, minReplicas: 2, extra: 1 },
              replicas: 3,
            },
          }),
        ],
      }),
    ).toEqual([
      'apps[0] (invoice-worker).kubernetes.replicas: unknown field (known: env, secretEnv, secretFiles, volumes, resources, scaling)',
      'apps[0] (invoice-worker).kubernetes.env.PORT: set for every app by the generator; remove it',
      'apps[0] (invoice-worker).kubernetes.secretEnv.SMTP_URL: must be { "secret": "<kebab-case Secret name>", "optional"?: boolean }',
      'apps[0] (invoice-worker).kubernetes.secretFiles.GATEWAY_API_KEYS: must end in _FILE',
      'apps[0] (invoice-worker).kubernetes.volumes.reports: must be an absolute mount path (got "relative")',
      'apps[0] (invoice-worker).kubernetes.scaling.extra: unknown field (known: minReplicas, maxReplicas, backlogPerReplica, oldestWaitingSeconds)',
      'apps[0] (invoice-worker).kubernetes.scaling: maxReplicas must be at least minReplicas and 1',
    ]);
  });

  it('accepts a valid manifest and types it', () => {
    const fleet = parseFleet({
      $comment: 'x',
      apps: [
        { name: 'gateway', kind: 'http', port: 3000, team: 'platform', queues: [] },
        worker({ compose: { environment: { SMTP_URL: 'smtp://mailpit:1025' }, dependsOn: ['mailpit'] } }),
      ],
    });
    expect(fleet.apps.map(portVariable)).toEqual(['PORT', 'METRICS_PORT']);
    expect(teamsOf(fleet)).toEqual(['billing', 'platform']);
    expect(workerOfQueue(fleet).get('invoices')?.name).toBe('invoice-worker');
  });

  it('names every problem with its path, not just the first', () => {
    const problems = problemsOf({
      apps: [
        worker({ name: 'Invoice_Worker', kind: 'cron', port: 70_000, team: '', queues: ['invoices', 'Bad'] }),
        worker({ name: 'b', port: 9105, queues: ['invoices'], extra: 1 }),
        worker({ name: 'c', port: 9105, queues: [] }),
        worker({ name: 'c', port: 9106, queues: [] }),
      ],
    });
    expect(problems).toEqual([
      'apps[0].name: must be a kebab-case directory name under apps/ (got "Invoice_Worker")',
      'apps[0] (Invoice_Worker).kind: must be "http" or "worker" (got "cron")',
      'apps[0] (Invoice_Worker).port: must be an integer from 1 to 65535 (got 70000)',
      'apps[0] (Invoice_Worker).team: must be a kebab-case team name (got "")',
      'apps[0] (Invoice_Worker).queues[1]: "Bad" must be kebab-case (e.g. "daily-reports")',
      'apps[1].extra: unknown field (known: name, kind, port, team, queues, enabledBy, nodeOptions, compose, kubernetes)',
      'apps[1] (b).queues: "invoices" is also worked by apps[0] (Invoice_Worker)',
      'apps[2] (c).port: 9105 is also the port of apps[1] (b)',
      'apps[3] (c).name: "c" is also apps[2]',
    ]);
  });

  it('checks the compose extras and refuses variables every app gets anyway', () => {
    const problems = problemsOf({
      apps: [
        worker({
          compose: { environment: { METRICS_PORT: '1', 'bad-name': 'x', N: 1 }, secrets: 'x', ports: [] },
        }),
      ],
    });
    expect(problems).toEqual([
      'apps[0] (invoice-worker).compose.ports: unknown field (known: environment, secrets, volumes, dependsOn)',
      'apps[0] (invoice-worker).compose.environment.METRICS_PORT: set for every app from its kind, port and nodeOptions; remove it',
      'apps[0] (invoice-worker).compose.environment.bad-name: not an environment variable name',
      'apps[0] (invoice-worker).compose.environment.N: must be a string (got 1)',
      'apps[0] (invoice-worker).compose.secrets: must be an array of strings (got "x")',
    ]);
  });

  it('takes an environment variable name as enabledBy', () => {
    const fleet = parseFleet({ apps: [worker({ queues: [], enabledBy: 'HTTP_WORKER_QUEUES' })] });
    expect(fleet.apps[0]?.enabledBy).toBe('HTTP_WORKER_QUEUES');
    expect(problemsOf({ apps: [worker({ enabledBy: 'http-worker' })] })).toEqual([
      'apps[0] (invoice-worker).enabledBy: must be an environment variable name (got "http-worker")',
    ]);
  });

  it('takes Node options as NODE_OPTIONS carries them, and no NODE_OPTIONS of its own', () => {
    const fleet = parseFleet({ apps: [worker({ nodeOptions: ['--max-semi-space-size=32', '--jitless'] })] });
    expect(fleet.apps[0]?.nodeOptions).toEqual(['--max-semi-space-size=32', '--jitless']);
    expect(
      problemsOf({
        apps: [
          worker({
            nodeOptions: ['max-semi-space-size=32', '--max-old-space-size 512', 7, '--jitless', '--jitless'],
            compose: { environment: { NODE_OPTIONS: '--jitless' } },
            kubernetes: { env: { NODE_OPTIONS: '--jitless' } },
          }),
        ],
      }),
    ).toEqual([
      'apps[0] (invoice-worker).nodeOptions[2]: must be a non-empty string (got 7)',
      'apps[0] (invoice-worker).nodeOptions[4]: "--jitless" is listed twice',
      'apps[0] (invoice-worker).nodeOptions[0]: "max-semi-space-size=32" is not a Node option (--name or --name=value)',
      'apps[0] (invoice-worker).nodeOptions[1]: "--max-old-space-size 512" is not a Node option (--name or --name=value)',
      'apps[0] (invoice-worker).compose.environment.NODE_OPTIONS: set for every app from its kind, port and nodeOptions; remove it',
      'apps[0] (invoice-worker).kubernetes.env.NODE_OPTIONS: set for every app by the generator; remove it',
    ]);
  });

  it('refuses a manifest without an apps array', () => {
    expect(problemsOf({ services: [] })).toEqual(['the top level must be an object with an "apps" array']);
  });
});

describe('readFleet', () => {
  it('says which file is not JSON, or cannot be read', () => {
    const dir = mkdtempSync(join(tmpdir(), 'jobfleet-fleet-'));
    try {
      const path = join(dir, 'fleet.json');
      writeFileSync(path, '{ "apps": [ }');
      expect(() => readFleet(path)).toThrow(`${path} is not a valid fleet manifest:\n  - not JSON:`);
      expect(() => readFleet(join(dir, 'missing.json'))).toThrow(
        /missing\.json is not a valid fleet manifest:\n {2}- cannot read it/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
