import { readFileSync } from 'node:fs';
import { basename, relative } from 'node:path';
import { promtool } from '@jobfleet/test-utils';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { filesIn, PROMETHEUS_CONFIG, PROMETHEUS_DIR, RULE_TESTS_DIR } from './support/paths.js';
import { metricNamesOf } from './support/promql.js';
import { loadRules, ruleFiles } from './support/rule-files.js';
import { FLEET } from './support/services.js';

interface RuleTestFile {
  rule_files?: string[];
  tests?: Array<{
    alert_rule_test?: Array<{ alertname?: string; exp_alerts?: unknown[] }>;
    promql_expr_test?: Array<{ expr?: string }>;
  }>;
}

interface ScrapeConfig {
  job_name: string;
  static_configs?: Array<{ targets?: string[] }>;
  dns_sd_configs?: Array<{ names?: string[]; type?: string; port?: number }>;
  relabel_configs?: Array<Record<string, string>>;
}

const ruleTestFiles = filesIn(RULE_TESTS_DIR, '.yml', '.yaml');
const readYaml = <T>(path: string) => parse(readFileSync(path, 'utf8')) as T;
const shown = (path: string) => relative(PROMETHEUS_DIR, path);

describe('Prometheus rules', () => {
  it('has rule files and rule test files', () => {
    expect(ruleFiles().length).toBeGreaterThan(0);
    expect(ruleTestFiles.length).toBeGreaterThan(0);
  });

  it.each(ruleFiles().map((path) => [shown(path), path]))('promtool check rules %s is clean', (_, path) => {
    const result = promtool(['check', 'rules', path]);
    expect(result.ok, result.output).toBe(true);
    expect(result.output).toMatch(/SUCCESS: \d+ rules found/);
    // promtool prints lint findings (e.g. duplicate rules) without failing.
    expect(result.output).not.toMatch(/WARNING|lint|duplicate/i);
  });

  it.each(ruleTestFiles.map((path) => [shown(path), path]))('promtool test rules %s passes', (_, path) => {
    const result = promtool(['test', 'rules', basename(path)], { cwd: RULE_TESTS_DIR });
    expect(result.ok, result.output).toBe(true);
    expect(result.output).toContain('SUCCESS');
  });

  it('every alert has a unit test in which it fires, and every recorded series is tested', () => {
    const rules = loadRules();
    const firing = new Set<string>();
    const tested = new Set<string>();
    const loaded = new Set<string>();
    for (const path of ruleTestFiles) {
      const file = readYaml<RuleTestFile>(path);
      for (const ruleFile of file.rule_files ?? []) loaded.add(basename(ruleFile));
      for (const test of file.tests ?? []) {
        for (const alert of test.alert_rule_test ?? []) {
          if (alert.alertname && (alert.exp_alerts ?? []).length > 0) firing.add(alert.alertname);
        }
        for (const expr of test.promql_expr_test ?? []) {
          for (const name of metricNamesOf(expr.expr ?? '')) tested.add(name);
        }
      }
    }
    const untested = rules.filter((rule) => !(rule.kind === 'alert' ? firing : tested).has(rule.name));
    expect(untested.map((rule) => `${rule.kind} ${rule.name} (${rule.file})`)).toEqual([]);
    expect(
      ruleFiles()
        .map((path) => basename(path))
        .filter((name) => !loaded.has(name)),
    ).toEqual([]);
  });

  it('rules name no app and no queue: they select apps by kind and queues by label', () => {
    const names = [...FLEET.apps.map((app) => app.name), ...FLEET.apps.flatMap((app) => app.queues)];
    const naming = loadRules().flatMap((rule) =>
      names
        // dead-letters is the one queue a rule may name: the DLQ processor's own webhook alert.
        .filter((name) => name !== 'dead-letters' && new RegExp(`["|]${name}["|]`).test(rule.expr))
        .map((name) => `${rule.file} ${rule.name} names ${name}`),
    );
    expect(naming).toEqual([]);
  });

  it('rules are named by convention and every alert says how bad and what happened', () => {
    const problems: string[] = [];
    for (const path of ruleFiles()) {
      const file = readYaml<{
        groups: Array<{
          rules: Array<{
            record?: string;
            alert?: string;
            labels?: Record<string, string>;
            annotations?: Record<string, string>;
          }>;
        }>;
      }>(path);
      for (const rule of file.groups.flatMap((group) => group.rules)) {
        if (rule.record && !/^[a-z_]+:jobfleet_[a-z0-9_]+:[a-z0-9_]+$/.test(rule.record)) {
          problems.push(`${rule.record}: not level:jobfleet_metric:operations`);
        }
        if (rule.alert) {
          if (!/^Jobfleet[A-Z][A-Za-z]+$/.test(rule.alert))
            problems.push(`${rule.alert}: not JobfleetCamelCase`);
          if (!['warning', 'critical'].includes(rule.labels?.severity ?? '')) {
            problems.push(`${rule.alert}: severity must be warning or critical`);
          }
          if (!rule.annotations?.summary || !rule.annotations.description) {
            problems.push(`${rule.alert}: needs a summary and a description`);
          }
        }
      }
    }
    expect(problems).toEqual([]);
  });
});

describe('prometheus.yml', () => {
  it('passes promtool check config and loads every rule file', () => {
    const result = promtool(['check', 'config', PROMETHEUS_CONFIG]);
    expect(result.ok, result.output).toBe(true);
    expect(result.output).toContain(`SUCCESS: ${ruleFiles().length} rule files found`);
  });

  it('scrapes every app of fleet.json by its compose name on its port, with its kind and owner', () => {
    const config = readYaml<{ scrape_configs: ScrapeConfig[] }>(PROMETHEUS_CONFIG);
    const jobs = new Map(config.scrape_configs.map((job) => [job.job_name, job]));
    for (const app of FLEET.apps) {
      const job = jobs.get(app.name);
      expect(job, `no scrape job "${app.name}"`).toBeDefined();
      // DNS discovery gives one target per replica of the compose service.
      expect(job?.dns_sd_configs).toEqual([
        expect.objectContaining({ names: [app.name], type: 'A', port: app.port }),
      ]);
      // The rules and the dashboard select apps by these target labels, never by name.
      expect(job?.relabel_configs).toEqual([
        { target_label: 'kind', replacement: app.kind },
        { target_label: 'owner', replacement: app.team },
      ]);
    }
    expect(jobs.get('redis')?.static_configs).toEqual([
      { targets: ['redis-exporter:9121'], labels: { kind: 'exporter' } },
    ]);
  });
});
