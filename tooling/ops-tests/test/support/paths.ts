import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root. */
export const REPO_ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
export const APPS_DIR = join(REPO_ROOT, 'apps');
export const DOCKER_DIR = join(REPO_ROOT, 'docker');
export const PROMETHEUS_DIR = join(DOCKER_DIR, 'prometheus');
export const PROMETHEUS_CONFIG = join(PROMETHEUS_DIR, 'prometheus.yml');
export const RULES_DIR = join(PROMETHEUS_DIR, 'rules');
export const RULE_TESTS_DIR = join(PROMETHEUS_DIR, 'tests');
export const GRAFANA_DIR = join(DOCKER_DIR, 'grafana');
export const DASHBOARDS_DIR = join(GRAFANA_DIR, 'dashboards');
export const COMPOSE_FILE = join(DOCKER_DIR, 'compose.yml');
export const ALERTMANAGER_DIR = join(DOCKER_DIR, 'alertmanager');
export const ALERTMANAGER_CONFIG = join(ALERTMANAGER_DIR, 'alertmanager.yml');
export const FLEET_FILE = join(REPO_ROOT, 'fleet.json');

/** The files of `dir` whose names end in one of `suffixes`, as absolute paths, sorted. */
export function filesIn(dir: string, ...suffixes: string[]): string[] {
  return readdirSync(dir)
    .filter((name) => suffixes.some((suffix) => name.endsWith(suffix)))
    .sort()
    .map((name) => join(dir, name));
}
