import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { DASHBOARDS_DIR, filesIn } from './paths.js';

/** The parts of Grafana's dashboard JSON model the tests read. */
export interface DataSourceRef {
  type?: string;
  uid?: string;
}

export interface PanelTarget {
  refId?: string;
  expr?: string;
  datasource?: DataSourceRef;
}

export interface Panel {
  id?: unknown;
  type?: string;
  title?: string;
  datasource?: DataSourceRef;
  gridPos?: { h?: number; w?: number; x?: number; y?: number };
  targets?: PanelTarget[];
  /** Panels inside a collapsed row. */
  panels?: Panel[];
}

export interface TemplateVariable {
  name?: string;
  type?: string;
  query?: unknown;
  definition?: string;
  datasource?: DataSourceRef;
}

export interface Dashboard {
  uid?: string;
  title?: string;
  schemaVersion?: number;
  panels?: Panel[];
  templating?: { list?: TemplateVariable[] };
}

export interface LoadedDashboard {
  file: string;
  model: Dashboard;
}

export const dashboardFiles = (): string[] => filesIn(DASHBOARDS_DIR, '.json');

export function loadDashboards(): LoadedDashboard[] {
  return dashboardFiles().map((path) => ({
    file: basename(path),
    model: JSON.parse(readFileSync(path, 'utf8')) as Dashboard,
  }));
}

/** Every panel, rows' nested panels included. */
export function allPanels(dashboard: Dashboard): Panel[] {
  return (dashboard.panels ?? []).flatMap((panel) => [panel, ...(panel.panels ?? [])]);
}

/** A PromQL expression of a dashboard and where it is, for messages. */
export interface DashboardQuery {
  where: string;
  expr: string;
  /** Labels the expression's series must carry (the `<label>` of `label_values`). */
  requiredLabels?: string[];
}

/** The query text of a query variable (Grafana stores it as a string or as `{ query }`). */
function variableQuery(variable: TemplateVariable): string | undefined {
  if (typeof variable.query === 'string') return variable.query;
  const nested = (variable.query as { query?: unknown } | undefined)?.query;
  return typeof nested === 'string' ? nested : undefined;
}

/**
 * Every PromQL expression of a dashboard: panel targets, and the series
 * selector inside each query variable's `label_values(<selector>, <label>)`.
 */
export function dashboardQueries(loaded: LoadedDashboard): DashboardQuery[] {
  const queries: DashboardQuery[] = [];
  for (const panel of allPanels(loaded.model)) {
    for (const target of panel.targets ?? []) {
      if (target.expr) {
        queries.push({
          where: `${loaded.file} panel ${String(panel.id)} "${panel.title}" target ${target.refId}`,
          expr: target.expr,
        });
      }
    }
  }
  for (const variable of loaded.model.templating?.list ?? []) {
    if (variable.type !== 'query') continue;
    const query = variableQuery(variable);
    if (!query) continue;
    const labelValues = /^\s*label_values\(\s*(.+),\s*(\w+)\s*\)\s*$/.exec(query);
    queries.push({
      where: `${loaded.file} variable $${variable.name}`,
      expr: labelValues?.[1] ?? query,
      ...(labelValues?.[2] ? { requiredLabels: [labelValues[2]] } : {}),
    });
  }
  return queries;
}
