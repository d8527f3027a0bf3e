/**
 * docker/alertmanager/alertmanager.yml: valid for Alertmanager (amtool
 * check-config), routing each team's alerts to that team's receiver, and the
 * inhibition that keeps one outage to one notification.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { catalog, deadLetters } from '@jobfleet/queue-contracts';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ALERTMANAGER_CONFIG, PROMETHEUS_CONFIG } from './support/paths.js';
import { loadRules } from './support/rule-files.js';
import { FLEET } from './support/services.js';

/** Runs `amtool <args>` (the binary is `$AMTOOL_BIN` or `amtool`). */
function amtool(args: readonly string[]): { ok: boolean; output: string } {
  const binary = process.env.AMTOOL_BIN ?? 'amtool';
  const result = spawnSync(binary, args, { encoding: 'utf8', timeout: 30_000 });
  if (result.error) {
    throw new Error(
      `could not run amtool ("${binary}"): ${result.error.message}. Debian/Ubuntu: apt-get install prometheus-alertmanager, or set AMTOOL_BIN`,
    );
  }
  return { ok: result.status === 0, output: `${result.stdout}${result.stderr}`.trim() };
}

/** The receiver Alertmanager picks for an alert with these labels. */
function receiverFor(labels: Record<string, string>): string {
  const result = amtool([
    'config',
    'routes',
    'test',
    `--config.file=${ALERTMANAGER_CONFIG}`,
    ...Object.entries(labels).map(([name, value]) => `${name}=${value}`),
  ]);
  expect(result.ok, result.output).toBe(true);
  // amtool warns on stderr that --config.file overrides --alertmanager.url; the answer is the last line.
  return (
    result.output
      .split('\n')
      .filter((line) => !line.startsWith('Warning:'))
      .at(-1) ?? ''
  );
}

interface AlertmanagerConfig {
  receivers: Array<{ name: string }>;
  inhibit_rules: Array<{ source_matchers: string[]; target_matchers: string[]; equal: string[] }>;
}
const config = parse(readFileSync(ALERTMANAGER_CONFIG, 'utf8')) as AlertmanagerConfig;
const contractTeams = [...new Set([...Object.values(catalog), deadLetters].map((contract) => contract.team))];

describe('alertmanager.yml', () => {
  it('passes amtool check-config', () => {
    const result = amtool(['check-config', ALERTMANAGER_CONFIG]);
    expect(result.ok, result.output).toBe(true);
    expect(result.output).toContain('SUCCESS');
  });

  it.each(contractTeams.map((team) => [team]))("routes team %s's alerts to its own receiver", (team) => {
    expect(receiverFor({ alertname: 'JobfleetQueueBackingUp', queue: 'any', team })).toBe(`team-${team}`);
  });

  it('has one receiver per team of the fleet, and sends alerts without a team to the operators', () => {
    const teams = [...new Set(FLEET.apps.map((app) => app.team))].sort();
    expect(config.receivers.map((receiver) => receiver.name)).toEqual([
      'fleet-operators',
      ...teams.map((team) => `team-${team}`),
    ]);
    expect(receiverFor({ alertname: 'JobfleetRedisDown', job: 'redis' })).toBe('fleet-operators');
  });

  it('inhibits the replica alerts of a service that is down, on alerts the rules define', () => {
    expect(config.inhibit_rules).toContainEqual({
      source_matchers: ['alertname="JobfleetServiceDown"'],
      target_matchers: ['alertname="JobfleetTargetDown"'],
      equal: ['job'],
    });
    const alerts = new Set(loadRules().map((rule) => rule.name));
    const named = config.inhibit_rules
      .flatMap((rule) => [...rule.source_matchers, ...rule.target_matchers])
      .map((matcher) => /^alertname="(\w+)"$/.exec(matcher)?.[1]);
    expect(named.filter((name) => !name || !alerts.has(name))).toEqual([]);
  });

  it('is where prometheus.yml sends alerts (the compose service alertmanager)', () => {
    const prometheus = parse(readFileSync(PROMETHEUS_CONFIG, 'utf8')) as {
      alerting?: { alertmanagers?: Array<{ static_configs?: Array<{ targets?: string[] }> }> };
    };
    expect(prometheus.alerting?.alertmanagers?.[0]?.static_configs?.[0]?.targets).toEqual([
      'alertmanager:9093',
    ]);
  });
});
