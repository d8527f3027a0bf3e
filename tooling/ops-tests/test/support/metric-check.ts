import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { type Exposition, type MetricType, seriesNamesOf } from './exposition.js';
import { expandGrafanaVariables, literalAlternatives, selectorsOf } from './promql.js';

/**
 * Series no jobfleet app exposes, which the rules and the dashboard may read
 * all the same: Prometheus' own `up` (one per scrape target), and what the
 * Redis exporter of docker/compose.yml (oliver006/redis_exporter) exposes.
 * The exporter cannot run here, so its names are listed, not scraped.
 */
export const EXTERNAL_SERIES: Readonly<Record<string, string>> = {
  up: 'Prometheus, per scrape target',
  prometheus_sd_discovered_targets: 'Prometheus, per scrape job (its own job scrapes it)',
  redis_up: 'redis_exporter',
  redis_memory_used_bytes: 'redis_exporter',
  redis_memory_max_bytes: 'redis_exporter',
};

/**
 * Labels Prometheus attaches to every scraped series (from prometheus.yml), not the apps: `kind` and
 * `owner` are the target labels of the app jobs that fleet.json generates.
 */
export const TARGET_LABELS = new Set(['job', 'instance', 'kind', 'owner']);

/** What the running services showed, merged. */
export interface ExposedMetrics {
  /** Series name → label → values, over every scrape. */
  series: Map<string, Map<string, Set<string>>>;
  /**
   * Series names of families that are declared but had no sample (a labelled
   * metric before its first event), or that were read from the sources of an
   * app that is not built, each with the app(s) it came from.
   */
  declaredOnly: Map<string, Set<string>>;
}

export function emptyExposed(): ExposedMetrics {
  return { series: new Map(), declaredOnly: new Map() };
}

function addDeclared(exposed: ExposedMetrics, name: string, app: string): void {
  const apps = exposed.declaredOnly.get(name) ?? new Set<string>();
  apps.add(app);
  exposed.declaredOnly.set(name, apps);
}

/** Adds one service's scrape. */
export function addScrape(exposed: ExposedMetrics, app: string, scraped: Exposition): void {
  for (const [name, labels] of scraped.series) {
    const merged = exposed.series.get(name) ?? new Map<string, Set<string>>();
    for (const [label, values] of labels) {
      const all = merged.get(label) ?? new Set<string>();
      for (const value of values) all.add(value);
      merged.set(label, all);
    }
    exposed.series.set(name, merged);
  }
  for (const [family, type] of scraped.families) {
    for (const name of seriesNamesOf(family, type)) {
      if (!scraped.series.has(name)) addDeclared(exposed, name, app);
    }
  }
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return name.endsWith('.ts') ? [path] : [];
  });
}

const DECLARATION =
  /new\s+(Counter|Gauge|Histogram|Summary)\s*(?:<[^>]*>)?\s*\(\s*\{\s*name:\s*['"]([A-Za-z_:][A-Za-z0-9_:]*)['"]/g;

/**
 * For an app that is not built: the metrics its sources declare with
 * prom-client (`new Counter({ name: … })`), a stand-in for a scrape.
 */
export function addDeclaredInSources(exposed: ExposedMetrics, app: string, srcDir: string): string[] {
  const found: string[] = [];
  for (const file of sourceFiles(srcDir)) {
    for (const match of readFileSync(file, 'utf8').matchAll(DECLARATION)) {
      const [, kind, family] = match;
      if (!kind || !family) continue;
      for (const name of seriesNamesOf(family, kind.toLowerCase() as MetricType)) {
        if (!exposed.series.has(name)) addDeclared(exposed, name, app);
        found.push(name);
      }
    }
  }
  return found;
}

/** Where an expression is and what it says. */
export interface CheckedExpression {
  where: string;
  expr: string;
  requiredLabels?: string[] | undefined;
}

export interface CheckContext {
  exposed: ExposedMetrics;
  /** Names that recording rules create. */
  recorded: ReadonlySet<string>;
  /** Prometheus job names (prometheus.yml): the only values a `job` matcher can meet. */
  jobs: ReadonlySet<string>;
}

const list = (values: Iterable<string>) => [...values].sort().join(', ');

/**
 * The problems of one expression: a series no service exposes and no rule
 * records; a matcher on a label the series does not have; a literal label
 * value no scrape showed (so the panel or alert could never match); a job
 * Prometheus does not scrape.
 */
export function expressionProblems(item: CheckedExpression, context: CheckContext): string[] {
  const { exposed, recorded, jobs } = context;
  const problems: string[] = [];
  const at = `${item.where}: `;
  let selectors: ReturnType<typeof selectorsOf>;
  try {
    selectors = selectorsOf(expandGrafanaVariables(item.expr));
  } catch (error) {
    return [`${at}cannot read the expression (${(error as Error).message}): ${item.expr}`];
  }
  if (selectors.length === 0) problems.push(`${at}reads no series: ${item.expr}`);
  for (const { metric, matchers } of selectors) {
    if (!metric) {
      problems.push(`${at}a selector without a metric name: ${item.expr}`);
      continue;
    }
    for (const matcher of matchers.filter((m) => m.label === 'job')) {
      for (const job of literalAlternatives(matcher) ?? []) {
        if (!jobs.has(job))
          problems.push(`${at}job "${job}" is not a scrape job of prometheus.yml (${list(jobs)})`);
      }
    }
    const labels = exposed.series.get(metric);
    if (!labels) {
      if (!recorded.has(metric) && !(metric in EXTERNAL_SERIES) && !exposed.declaredOnly.has(metric)) {
        problems.push(`${at}${metric} is exposed by no running service and recorded by no rule`);
      }
      continue;
    }
    const required = [...matchers.map((m) => m.label), ...(item.requiredLabels ?? [])];
    for (const label of required) {
      if (!TARGET_LABELS.has(label) && !labels.has(label)) {
        problems.push(`${at}${metric} has no label "${label}" (its labels: ${list(labels.keys())})`);
      }
    }
    for (const matcher of matchers) {
      if (TARGET_LABELS.has(matcher.label) || matcher.op === '!=' || matcher.op === '!~') continue;
      const seen = labels.get(matcher.label);
      if (!seen) continue;
      for (const value of literalAlternatives(matcher) ?? []) {
        if (!seen.has(value)) {
          problems.push(`${at}${metric}{${matcher.label}="${value}"} never appeared (seen: ${list(seen)})`);
        }
      }
    }
  }
  return problems;
}
