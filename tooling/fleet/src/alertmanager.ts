import { type Document, isMap, type YAMLMap } from 'yaml';
import { type Fleet, teamsOf } from './manifest.js';
import { mapAt, parseYaml, scalarValue, seqAt, setGeneratedHeader, stringifyYaml } from './yaml-document.js';

export const ALERTMANAGER_FILE = 'docker/alertmanager/alertmanager.yml';

/** The receiver of a team's alerts; routes and receivers with this prefix belong to the generator. */
export const teamReceiver = (team: string): string => `team-${team}`;
const TEAM_PREFIX = teamReceiver('');

/** A route's `receiver`, or a receiver's `name`. */
function receiverOf(node: unknown): string {
  if (!isMap(node)) return '';
  const value = scalarValue(node.get('receiver', true)) ?? scalarValue(node.get('name', true));
  return typeof value === 'string' ? value : '';
}
const isTeamItem = (node: unknown): boolean => receiverOf(node).startsWith(TEAM_PREFIX);

function teamRoute(doc: Document, team: string): YAMLMap {
  return doc.createNode({ matchers: [`team="${team}"`], receiver: teamReceiver(team) }) as YAMLMap;
}

/**
 * A team's example receiver: e-mail to <team>@jobfleet.local, which the
 * local stack's Mailpit catches. Edit it freely (Slack, PagerDuty, …): the
 * generator keeps an existing team receiver and only adds missing ones.
 */
function teamReceiverNode(doc: Document, team: string): YAMLMap {
  return doc.createNode({
    name: teamReceiver(team),
    email_configs: [{ to: `${team}@jobfleet.local`, send_resolved: true }],
  }) as YAMLMap;
}

/**
 * docker/alertmanager/alertmanager.yml with one route (matching `team`) and
 * one receiver per team of fleet.json. Existing team routes and receivers
 * are kept as edited; those of teams that no longer own an app are removed;
 * everything else is kept as written.
 */
export function generateAlertmanager(current: string, fleet: Fleet): string {
  const doc = parseYaml(current, ALERTMANAGER_FILE);
  const teams = teamsOf(fleet);
  mapAt(doc, ['route'], ALERTMANAGER_FILE);
  const routes = doc.getIn(['route', 'routes']);
  if (routes === undefined || routes === null) doc.setIn(['route', 'routes'], doc.createNode([]));
  for (const [path, build] of [
    [['route', 'routes'], teamRoute],
    [['receivers'], teamReceiverNode],
  ] as const) {
    const list = seqAt(doc, path, ALERTMANAGER_FILE);
    const existing = new Map(list.items.filter(isTeamItem).map((node) => [receiverOf(node), node]));
    const others = list.items.filter((node) => !isTeamItem(node));
    const first = list.items.findIndex(isTeamItem);
    const at = first === -1 ? others.length : list.items.slice(0, first).filter((n) => !isTeamItem(n)).length;
    const generated = teams.map((team) => existing.get(teamReceiver(team)) ?? build(doc, team));
    list.items = [...others.slice(0, at), ...generated, ...others.slice(at)];
    list.flow = list.items.length === 0;
  }
  setGeneratedHeader(doc, 'a route and a receiver per team (kept when edited); the rest is hand-written.');
  return stringifyYaml(doc);
}
