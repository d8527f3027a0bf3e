/**
 * fleet.json against the repository: the manifest is only the single source
 * of what the fleet runs if it agrees with the apps and the contracts.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { catalog, deadLetters, type QueueContract } from '@jobfleet/queue-contracts';
import { describe, expect, it } from 'vitest';
import { DEAD_LETTER_QUEUE, FLEET_FILE, REPO_ROOT, readFleet, teamsOf } from '../src/index.js';

const fleet = readFleet(FLEET_FILE);
const APPS_DIR = join(REPO_ROOT, 'apps');
/** Every queue a contract defines: the catalog's work queues and the dead-letter queue. */
const contracts = new Map<string, QueueContract>(
  [...Object.values(catalog), deadLetters].map((contract) => [contract.name, contract]),
);

describe('fleet.json agrees with the repository', () => {
  it('has exactly one entry per app under apps/', () => {
    const apps = readdirSync(APPS_DIR).filter((name) => existsSync(join(APPS_DIR, name, 'package.json')));
    expect(fleet.apps.map((app) => app.name).sort()).toEqual(apps.sort());
  });

  it("names each app's package @jobfleet/<name>", () => {
    for (const app of fleet.apps) {
      const pkg = JSON.parse(readFileSync(join(APPS_DIR, app.name, 'package.json'), 'utf8')) as {
        name: string;
      };
      expect(pkg.name, app.name).toBe(`@jobfleet/${app.name}`);
    }
  });

  it('lists only queues that have a contract, and every contract queue is worked by one app', () => {
    const listed = fleet.apps.flatMap((app) => app.queues);
    expect(listed.filter((queue) => !contracts.has(queue))).toEqual([]);
    expect([...contracts.keys()].filter((queue) => !listed.includes(queue))).toEqual([]);
    expect(new Set(listed).size).toBe(listed.length);
  });

  it("gives every worker its queues' team (the contract's team)", () => {
    const mismatches = fleet.apps.flatMap((app) =>
      app.queues
        .filter((queue) => contracts.get(queue)?.team !== app.team)
        .map(
          (queue) => `${app.name} (team ${app.team}) works ${queue}, owned by ${contracts.get(queue)?.team}`,
        ),
    );
    expect(mismatches).toEqual([]);
  });

  it('serves http apps on PORT and workers on METRICS_PORT, each on its own port', () => {
    const ports = fleet.apps.map((app) => app.port);
    expect(new Set(ports).size).toBe(ports.length);
    for (const app of fleet.apps) {
      if (app.kind === 'http') expect(app.queues, `${app.name} is http`).toEqual([]);
      // An app enabled by configuration (the http-worker) is told its queues there.
      else if (!app.enabledBy) {
        expect(app.queues.length, `${app.name} is a worker without a queue`).toBeGreaterThan(0);
      }
    }
  });

  it('gives every team that owns a contract queue an Alertmanager receiver', () => {
    const teams = teamsOf(fleet);
    for (const contract of contracts.values()) expect(teams, contract.name).toContain(contract.team);
  });

  it("starts this Node with every app's nodeOptions as NODE_OPTIONS (compose and Kubernetes set them so)", () => {
    const nodeWith = (options: string) =>
      spawnSync(process.execPath, ['-e', ''], { env: { ...process.env, NODE_OPTIONS: options } });
    for (const app of fleet.apps.filter((a) => a.nodeOptions?.length)) {
      const started = nodeWith(app.nodeOptions?.join(' ') ?? '');
      expect(started.stderr.toString(), app.name).toBe('');
      expect(started.status, app.name).toBe(0);
    }
    // The check bites: an option Node refuses there stops the process (and the container) at once.
    expect(nodeWith('--cpu-prof').status).not.toBe(0);
  });

  it('names the dead-letter queue as its contract does (the Kubernetes scaler treats it apart)', () => {
    expect(DEAD_LETTER_QUEUE).toBe(deadLetters.name);
  });
});
