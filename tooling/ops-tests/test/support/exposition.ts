/**
 * Reads a Prometheus text exposition (what `/metrics` answers) into what the
 * expression checks need: the series names a query can select, and the label
 * values seen for each.
 */

export type MetricType = 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';

export interface Exposition {
  /** Family name → type, from the `# TYPE` lines. */
  families: Map<string, MetricType>;
  /** Series name (`x_bucket`, `x_total`, …) → label name → values seen. */
  series: Map<string, Map<string, Set<string>>>;
}

/** The series names a family of `type` is selected by in PromQL. */
export function seriesNamesOf(family: string, type: MetricType): string[] {
  if (type === 'histogram') return [`${family}_bucket`, `${family}_sum`, `${family}_count`];
  if (type === 'summary') return [family, `${family}_sum`, `${family}_count`];
  return [family];
}

/** Parses `{a="x",b="y\"z"}` starting at `start` (the `{`); returns the labels and the index past `}`. */
function parseLabels(line: string, start: number): { labels: Map<string, string>; end: number } {
  const labels = new Map<string, string>();
  let i = start + 1;
  for (;;) {
    while (line[i] === ' ' || line[i] === ',') i += 1;
    if (line[i] === '}') return { labels, end: i + 1 };
    const name = /^[A-Za-z_][A-Za-z0-9_]*/.exec(line.slice(i));
    if (!name || line[i + name[0].length] !== '=' || line[i + name[0].length + 1] !== '"') {
      throw new Error(`bad label at column ${i}: ${line}`);
    }
    i += name[0].length + 2;
    let value = '';
    while (i < line.length && line[i] !== '"') {
      if (line[i] === '\\') {
        const escaped = line[i + 1];
        value += escaped === 'n' ? '\n' : (escaped ?? '');
        i += 2;
      } else {
        value += line[i];
        i += 1;
      }
    }
    if (line[i] !== '"') throw new Error(`unterminated label value: ${line}`);
    labels.set(name[0], value);
    i += 1;
  }
}

export function parseExposition(text: string): Exposition {
  const families = new Map<string, MetricType>();
  const series = new Map<string, Map<string, Set<string>>>();
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line) continue;
    if (line.startsWith('#')) {
      const type = /^#\s+TYPE\s+(\S+)\s+(\S+)/.exec(line);
      if (type?.[1] && type[2]) families.set(type[1], type[2] as MetricType);
      continue;
    }
    const name = /^[A-Za-z_:][A-Za-z0-9_:]*/.exec(line)?.[0];
    if (!name) throw new Error(`bad sample line: ${line}`);
    const labels =
      line[name.length] === '{' ? parseLabels(line, name.length).labels : new Map<string, string>();
    let byLabel = series.get(name);
    if (!byLabel) {
      byLabel = new Map();
      series.set(name, byLabel);
    }
    for (const [label, value] of labels) {
      let values = byLabel.get(label);
      if (!values) {
        values = new Set();
        byLabel.set(label, values);
      }
      values.add(value);
    }
  }
  return { families, series };
}
