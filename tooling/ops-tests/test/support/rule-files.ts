import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { parse } from 'yaml';
import { filesIn, RULES_DIR } from './paths.js';

/** One recording or alerting rule of docker/prometheus/rules. */
export interface Rule {
  file: string;
  group: string;
  /** The recorded series' name, or the alert's. */
  name: string;
  kind: 'record' | 'alert';
  expr: string;
}

interface RuleFile {
  groups?: Array<{ name: string; rules?: Array<{ record?: string; alert?: string; expr?: string }> }>;
}

export const ruleFiles = (): string[] => filesIn(RULES_DIR, '.yml', '.yaml');

/** Every rule of every rule file. */
export function loadRules(): Rule[] {
  const rules: Rule[] = [];
  for (const path of ruleFiles()) {
    const file = parse(readFileSync(path, 'utf8')) as RuleFile;
    for (const group of file.groups ?? []) {
      for (const rule of group.rules ?? []) {
        const name = rule.record ?? rule.alert ?? '';
        rules.push({
          file: basename(path),
          group: group.name,
          name,
          kind: rule.record ? 'record' : 'alert',
          expr: String(rule.expr ?? ''),
        });
      }
    }
  }
  return rules;
}

/** The names recording rules create: expressions may read them like exposed metrics. */
export const recordedNames = (rules: readonly Rule[]): Set<string> =>
  new Set(rules.filter((rule) => rule.kind === 'record').map((rule) => rule.name));
