/**
 * Just enough of PromQL's grammar to find the series selectors of an
 * expression: `metric{label="value", …}` and bare `{__name__="metric"}`. The
 * syntax itself is left to promtool (the tests also run every expression
 * through `promtool check rules`); this only has to tell metric names apart
 * from functions, aggregations, keywords, label lists, durations and strings.
 */

export type MatchOp = '=' | '!=' | '=~' | '!~';

export interface LabelMatcher {
  label: string;
  op: MatchOp;
  value: string;
}

export interface Selector {
  metric: string;
  matchers: LabelMatcher[];
}

type Token =
  | { kind: 'ident'; value: string }
  | { kind: 'string'; value: string }
  | { kind: 'number'; value: string }
  | { kind: 'punct'; value: string };

/** Followed by a parenthesised list of label names, not of expressions. */
const LABEL_LIST_KEYWORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right']);
const KEYWORDS = new Set(['offset', 'bool', 'and', 'or', 'unless', 'inf', 'nan', 'atan2']);
/** Aggregations may put `by (…)` between their name and their argument. */
const AGGREGATIONS = new Set([
  'sum',
  'min',
  'max',
  'avg',
  'group',
  'stddev',
  'stdvar',
  'count',
  'count_values',
  'bottomk',
  'topk',
  'quantile',
  'limitk',
  'limit_ratio',
]);
const MATCH_OPS = new Set<string>(['=', '!=', '=~', '!~']);

function unquote(raw: string): string {
  const body = raw.slice(1, -1);
  if (raw.startsWith('`')) return body;
  return body.replace(/\\(.)/g, (_, c: string) => ({ n: '\n', t: '\t', r: '\r' })[c] ?? c);
}

export function tokenize(expr: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < expr.length) {
    const rest = expr.slice(i);
    const c = expr.charAt(i);
    if (/\s/.test(c)) {
      i += 1;
      continue;
    }
    if (c === '#') {
      const end = expr.indexOf('\n', i);
      i = end === -1 ? expr.length : end;
      continue;
    }
    const string = /^("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)/.exec(rest);
    if (string?.[1]) {
      tokens.push({ kind: 'string', value: unquote(string[1]) });
      i += string[1].length;
      continue;
    }
    const ident = /^[A-Za-z_:][A-Za-z0-9_:]*/.exec(rest);
    if (ident) {
      tokens.push({ kind: 'ident', value: ident[0] });
      i += ident[0].length;
      continue;
    }
    // Numbers and durations (5m, 1h30m, 0.95, 1e3, 0x1f) alike.
    const number = /^(?:[0-9]|\.[0-9])[0-9A-Za-z_.]*/.exec(rest);
    if (number) {
      tokens.push({ kind: 'number', value: number[0] });
      i += number[0].length;
      continue;
    }
    const op = /^(?:=~|!~|!=|==|>=|<=)/.exec(rest);
    const punct = op ? op[0] : c;
    tokens.push({ kind: 'punct', value: punct });
    i += punct.length;
  }
  return tokens;
}

/** The index just past the bracket that closes the one at `start`. */
function skipBalanced(tokens: Token[], start: number, open: string, close: string): number {
  let depth = 0;
  for (let i = start; i < tokens.length; i += 1) {
    const token = tokens[i];
    if (token?.kind !== 'punct') continue;
    if (token.value === open) depth += 1;
    if (token.value === close) {
      depth -= 1;
      if (depth === 0) return i + 1;
    }
  }
  throw new Error(`unbalanced "${open}"`);
}

/** Reads `{label op "value", …}` from the `{` at `start`; returns the matchers and the index past `}`. */
function readMatchers(tokens: Token[], start: number): { matchers: LabelMatcher[]; end: number } {
  const matchers: LabelMatcher[] = [];
  let i = start + 1;
  for (;;) {
    const token = tokens[i];
    if (!token) throw new Error('unterminated label matchers');
    if (token.kind === 'punct' && token.value === '}') return { matchers, end: i + 1 };
    if (token.kind === 'punct' && token.value === ',') {
      i += 1;
      continue;
    }
    const op = tokens[i + 1];
    const value = tokens[i + 2];
    if (
      (token.kind !== 'ident' && token.kind !== 'string') ||
      op?.kind !== 'punct' ||
      !MATCH_OPS.has(op.value) ||
      value?.kind !== 'string'
    ) {
      throw new Error(`bad label matcher near "${token.value}"`);
    }
    matchers.push({ label: token.value, op: op.value as MatchOp, value: value.value });
    i += 3;
  }
}

/** Every series selector of a PromQL expression, in order. */
export function selectorsOf(expr: string): Selector[] {
  const tokens = tokenize(expr);
  const selectors: Selector[] = [];
  let i = 0;
  while (i < tokens.length) {
    const token = tokens[i];
    const next = tokens[i + 1];
    if (!token) break;
    if (token.kind === 'punct' && token.value === '[') {
      // Ranges, subqueries: durations only.
      i = skipBalanced(tokens, i, '[', ']');
      continue;
    }
    if (token.kind === 'punct' && token.value === '{') {
      const { matchers, end } = readMatchers(tokens, i);
      const name = matchers.find((m) => m.label === '__name__' && m.op === '=');
      selectors.push({ metric: name?.value ?? '', matchers: matchers.filter((m) => m !== name) });
      i = end;
      continue;
    }
    if (token.kind !== 'ident') {
      i += 1;
      continue;
    }
    const word = token.value.toLowerCase();
    if (LABEL_LIST_KEYWORDS.has(word)) {
      i = next?.kind === 'punct' && next.value === '(' ? skipBalanced(tokens, i + 1, '(', ')') : i + 1;
      continue;
    }
    if (KEYWORDS.has(word) || AGGREGATIONS.has(word) || (next?.kind === 'punct' && next.value === '(')) {
      i += 1;
      continue;
    }
    if (next?.kind === 'punct' && next.value === '{') {
      const { matchers, end } = readMatchers(tokens, i + 1);
      selectors.push({ metric: token.value, matchers });
      i = end;
    } else {
      selectors.push({ metric: token.value, matchers: [] });
      i += 1;
    }
  }
  return selectors;
}

/** The metric names an expression reads. */
export function metricNamesOf(expr: string): string[] {
  return [...new Set(selectorsOf(expr).map((s) => s.metric))];
}

/** Grafana's built-in interval variables, replaced by durations PromQL accepts. */
const GRAFANA_INTERVALS: Record<string, string> = {
  __rate_interval: '1m',
  __interval: '15s',
  __range: '1h',
};

/**
 * A dashboard query as Prometheus would receive it: Grafana's interval
 * variables become durations, template variables (`$queue`, `${queue}`,
 * `[[queue]]`) become `.+` (they sit inside regex matchers).
 */
export function expandGrafanaVariables(expr: string): string {
  return expr.replace(
    /\$\{(\w+)(?::\w+)?\}|\$(\w+)|\[\[(\w+)\]\]/g,
    (_, braced?: string, plain?: string, old?: string) => {
      const name = braced ?? plain ?? old ?? '';
      return GRAFANA_INTERVALS[name] ?? '.+';
    },
  );
}

/** Whether a matcher value is a literal or a plain alternation of literals (`a|b`), and those literals. */
export function literalAlternatives(matcher: LabelMatcher): string[] | undefined {
  if (matcher.op === '=') return [matcher.value];
  if (matcher.op === '=~' && /^[A-Za-z0-9_:-]+(\|[A-Za-z0-9_:-]+)*$/.test(matcher.value)) {
    return matcher.value.split('|');
  }
  return undefined;
}
