import { Alias, type Document, isMap, isPair, type Pair, type YAMLMap } from 'yaml';
import { type Fleet, type FleetApp, portVariable } from './manifest.js';
import {
  GeneratedFileError,
  mapAt,
  parseYaml,
  quoted,
  replaceOwned,
  scalarValue,
  setGeneratedHeader,
  stringifyYaml,
} from './yaml-document.js';

export const COMPOSE_FILE = 'docker/compose.yml';

/** The anchors of docker/compose.yml every app service merges: restart, init, grace, Redis; and the common env. */
const APP_ANCHOR = 'app';
const APP_ENV_ANCHOR = 'app-env';

/** An app service is one built from docker/Dockerfile with an `APP` argument: the generator owns those. */
function isAppService(pair: Pair): boolean {
  return isMap(pair.value) && scalarValue(pair.value.getIn(['build', 'args', 'APP'], true)) !== undefined;
}

function declared(doc: Document, section: 'secrets' | 'volumes'): Set<string> {
  const node = doc.get(section, true);
  return new Set(isMap(node) ? node.items.map((pair) => String(scalarValue(pair.key))) : []);
}

function checkReferences(doc: Document, app: FleetApp): void {
  const secrets = declared(doc, 'secrets');
  for (const secret of app.compose?.secrets ?? []) {
    if (!secrets.has(secret)) {
      throw new GeneratedFileError(
        COMPOSE_FILE,
        `fleet.json app ${app.name} uses secret "${secret}", which the top-level secrets: section does not declare`,
      );
    }
  }
  const volumes = declared(doc, 'volumes');
  for (const mount of app.compose?.volumes ?? []) {
    const source = mount.split(':')[0] ?? '';
    // Bind mounts start with . or /; anything else names a volume.
    if (!/^[./~]/.test(source) && !volumes.has(source)) {
      throw new GeneratedFileError(
        COMPOSE_FILE,
        `fleet.json app ${app.name} mounts volume "${source}", which the top-level volumes: section does not declare`,
      );
    }
  }
}

function appService(doc: Document, app: FleetApp): YAMLMap {
  const port = String(app.port);
  const environment = doc.createNode({
    [portVariable(app)]: quoted(port),
    ...(app.nodeOptions?.length ? { NODE_OPTIONS: app.nodeOptions.join(' ') } : {}),
    ...app.compose?.environment,
  }) as YAMLMap;
  environment.items.unshift(doc.createPair('<<', new Alias(APP_ENV_ANCHOR)));
  const service: Record<string, unknown> = {
    build: { context: '..', dockerfile: 'docker/Dockerfile', args: { APP: app.name } },
    image: `jobfleet/${app.name}:local`,
    environment,
  };
  // Off unless asked for (`docker compose --profile <app> up`), as `pnpm start` leaves it off unless configured.
  if (app.enabledBy) service.profiles = [app.name];
  if (app.compose?.dependsOn?.length) {
    // A service's own depends_on replaces the anchor's, so Redis is named again.
    service.depends_on = {
      redis: { condition: 'service_healthy' },
      ...Object.fromEntries(app.compose.dependsOn.map((name) => [name, { condition: 'service_started' }])),
    };
  }
  if (app.compose?.secrets?.length) service.secrets = [...app.compose.secrets];
  if (app.compose?.volumes?.length) service.volumes = [...app.compose.volumes];
  // HTTP apps are published on the host; workers' metrics ports are not, so they can be scaled.
  if (app.kind === 'http') service.ports = [quoted(`${port}:${port}`)];
  else service.expose = [quoted(port)];
  const node = doc.createNode(service) as YAMLMap;
  node.items.unshift(doc.createPair('<<', new Alias(APP_ANCHOR)));
  return node;
}

/**
 * docker/compose.yml with one service per fleet.json app, in the manifest's
 * order where the app services were; every other service and section is
 * kept as written.
 */
export function generateCompose(current: string, fleet: Fleet): string {
  const doc = parseYaml(current, COMPOSE_FILE);
  for (const anchor of [APP_ANCHOR, APP_ENV_ANCHOR]) {
    if (!current.includes(`&${anchor}\n`)) {
      throw new GeneratedFileError(
        COMPOSE_FILE,
        `the app services merge the anchor &${anchor}, which is missing`,
      );
    }
  }
  const services = mapAt(doc, ['services'], COMPOSE_FILE);
  const generated = fleet.apps.map((app, i) => {
    checkReferences(doc, app);
    const pair = doc.createPair(app.name, appService(doc, app));
    const key = pair.key as { spaceBefore?: boolean; commentBefore?: string };
    key.spaceBefore = true;
    if (i === 0)
      key.commentBefore =
        ' The apps: generated from fleet.json (pnpm fleet:generate); edit fleet.json, not them.';
    return pair;
  });
  services.items = replaceOwned(services.items.filter(isPair), isAppService, generated, 1);
  setGeneratedHeader(doc, 'the app services (one per app); the rest is hand-written.');
  return stringifyYaml(doc);
}
