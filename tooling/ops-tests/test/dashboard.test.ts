import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promtool } from '@jobfleet/test-utils';
import { describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import {
  allPanels,
  dashboardFiles,
  dashboardQueries,
  loadDashboards,
  type Panel,
} from './support/dashboards.js';
import { GRAFANA_DIR } from './support/paths.js';
import { expandGrafanaVariables } from './support/promql.js';

// biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's variable syntax, meant literally.
const DATASOURCE_VARIABLE = '${datasource}';
/** Panel types of Grafana's core the dashboards may use. */
const PANEL_TYPES = new Set(['row', 'timeseries', 'stat', 'gauge', 'bargauge', 'table', 'text', 'heatmap']);

const dashboards = loadDashboards();

function overlaps(a: Panel, b: Panel): boolean {
  const [p, q] = [a.gridPos ?? {}, b.gridPos ?? {}];
  const [px, py, pw, ph] = [p.x ?? 0, p.y ?? 0, p.w ?? 0, p.h ?? 0];
  const [qx, qy, qw, qh] = [q.x ?? 0, q.y ?? 0, q.w ?? 0, q.h ?? 0];
  return px < qx + qw && qx < px + pw && py < qy + qh && qy < py + ph;
}

describe('Grafana dashboards', () => {
  it('exist', () => {
    expect(dashboardFiles().map((path) => path.split('/').pop())).toContain('jobfleet-fleet.json');
  });

  describe.each(dashboards.map((d) => [d.file, d] as const))('%s', (_, { model }) => {
    const panels = allPanels(model);
    const dataPanels = panels.filter((panel) => panel.type !== 'row');

    it('is a dashboard model Grafana imports: uid, title, schema version, panels, templating', () => {
      expect(model.uid).toMatch(/^[A-Za-z0-9_-]{1,40}$/);
      expect(model.title).toEqual(expect.any(String));
      expect(model.schemaVersion).toBeGreaterThanOrEqual(36);
      expect(Array.isArray(model.panels)).toBe(true);
      expect(Array.isArray(model.templating?.list)).toBe(true);
      for (const panel of panels) {
        expect(PANEL_TYPES.has(panel.type ?? ''), `panel ${String(panel.id)} type ${panel.type}`).toBe(true);
        expect(panel.title, `panel ${String(panel.id)} has a title`).toEqual(expect.any(String));
      }
    });

    it('gives every panel a unique integer id', () => {
      const ids = panels.map((panel) => panel.id);
      expect(ids.every((id) => Number.isInteger(id))).toBe(true);
      expect(new Set(ids).size).toBe(ids.length);
    });

    it('lays the panels out on the 24-column grid without overlaps', () => {
      for (const panel of panels) {
        const { x = -1, y = -1, w = 0, h = 0 } = panel.gridPos ?? {};
        expect(x >= 0 && y >= 0 && w >= 1 && h >= 1 && x + w <= 24, `panel ${String(panel.id)} gridPos`).toBe(
          true,
        );
      }
      const clashes = panels.flatMap((a, i) =>
        panels.slice(i + 1).flatMap((b) => (overlaps(a, b) ? [`${String(a.id)} and ${String(b.id)}`] : [])),
      );
      expect(clashes).toEqual([]);
    });

    it('has a Prometheus datasource variable that every panel and query uses', () => {
      const variables = model.templating?.list ?? [];
      const datasource = variables.find((v) => v.type === 'datasource');
      expect(datasource).toMatchObject({ name: 'datasource', query: 'prometheus' });
      const stray = dataPanels.flatMap((panel) => [
        ...(panel.datasource?.uid === DATASOURCE_VARIABLE
          ? []
          : [`panel ${String(panel.id)} "${panel.title}"`]),
        ...(panel.targets ?? [])
          .filter((target) => target.datasource?.uid !== DATASOURCE_VARIABLE)
          .map((target) => `panel ${String(panel.id)} target ${target.refId}`),
      ]);
      const strayVariables = variables
        .filter((v) => v.type === 'query' && v.datasource?.uid !== DATASOURCE_VARIABLE)
        .map((v) => `variable ${v.name}`);
      expect([...stray, ...strayVariables]).toEqual([]);
    });

    it('has a multi-value $queue variable that every queue-labelled panel filters on', () => {
      const queue = (model.templating?.list ?? []).find((v) => v.name === 'queue');
      expect(queue).toMatchObject({ type: 'query', multi: true, includeAll: true });
      const unfiltered = dataPanels
        .flatMap((panel) => (panel.targets ?? []).map((target) => ({ panel, expr: target.expr ?? '' })))
        .filter(({ expr }) => /\bqueue\b/.test(expr) && !expr.includes('$queue'))
        .map(({ panel }) => `panel ${String(panel.id)} "${panel.title}"`);
      expect(unfiltered).toEqual([]);
    });

    it('gives every data panel at least one query, with unique refIds', () => {
      for (const panel of dataPanels) {
        const refs = (panel.targets ?? []).map((target) => target.refId);
        expect(refs.length, `panel ${String(panel.id)} "${panel.title}"`).toBeGreaterThan(0);
        expect(new Set(refs).size).toBe(refs.length);
        for (const target of panel.targets ?? []) expect(target.expr).toEqual(expect.any(String));
      }
    });
  });

  it('every dashboard query is valid PromQL (promtool, with the Grafana variables filled in)', () => {
    const queries = dashboards.flatMap(dashboardQueries);
    expect(queries.length).toBeGreaterThan(0);
    // Each query becomes a recording rule, so promtool parses and type-checks it.
    const rules = queries.map((query, i) => ({
      record: `dashboard:query_${i}:check`,
      expr: expandGrafanaVariables(query.expr),
    }));
    const dir = mkdtempSync(join(tmpdir(), 'jobfleet-dashboard-'));
    try {
      const file = join(dir, 'queries.yml');
      writeFileSync(file, stringify({ groups: [{ name: 'dashboard-queries', rules }] }));
      const result = promtool(['check', 'rules', file]);
      const failing = result.ok
        ? ''
        : `${result.output}\n${queries.map((q, i) => `query_${i}: ${q.where}`).join('\n')}`;
      expect(result.ok, failing).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('Grafana provisioning', () => {
  const read = <T>(path: string) => parse(readFileSync(join(GRAFANA_DIR, 'provisioning', path), 'utf8')) as T;

  it("provides the Prometheus datasource the dashboards' datasource variable selects by default", () => {
    const { datasources } = read<{ datasources: Array<{ uid: string; type: string; url: string }> }>(
      'datasources/prometheus.yml',
    );
    expect(datasources).toEqual([
      expect.objectContaining({ type: 'prometheus', url: 'http://prometheus:9090' }),
    ]);
    for (const { file, model } of dashboards) {
      const variable = (model.templating?.list ?? []).find((v) => v.type === 'datasource') as
        | { current?: { value?: string } }
        | undefined;
      expect(variable?.current?.value, file).toBe(datasources[0]?.uid);
    }
  });

  it('loads the dashboards from the directory compose mounts them in', () => {
    const { providers } = read<{ providers: Array<{ type: string; options: { path: string } }> }>(
      'dashboards/jobfleet.yml',
    );
    expect(providers).toEqual([
      expect.objectContaining({
        type: 'file',
        options: expect.objectContaining({ path: '/var/lib/grafana/dashboards' }),
      }),
    ]);
  });
});
