import type { EnvVar } from '@jobfleet/service-kit';

/** A config spec: environment keys and their readers. */
export type Spec = Readonly<Record<string, EnvVar<unknown>>>;

/** One group of an app's keys, as `.env.example` and the README show them. */
export interface KeyGroup {
  readonly title: string;
  readonly spec: Spec;
}

/** What applies when a key is unset. */
export type DefaultOf =
  | { readonly kind: 'value'; readonly text: string }
  | { readonly kind: 'unset'; readonly text: string | undefined }
  | { readonly kind: 'required' };

/**
 * A key's default: the value its fallback gives (written as `defaultText`), or
 * unset (what applies then, when `defaultText` says), or none: required.
 */
export function defaultOf(key: string, variable: EnvVar<unknown>): DefaultOf {
  if (!variable.fallback) return { kind: 'required' };
  if (variable.fallback() === undefined) return { kind: 'unset', text: variable.defaultText };
  if (variable.defaultText === undefined) {
    throw new Error(
      `${key}: its fallback computes a value, so it needs a defaultText (the default as people write it)`,
    );
  }
  return { kind: 'value', text: variable.defaultText };
}

/** Why `key` cannot be documented, or undefined. */
export function docProblem(key: string, variable: EnvVar<unknown>): string | undefined {
  if (!variable.doc?.trim()) return `${key} has no doc (say what it does in its EnvVar's \`doc\`)`;
  if (variable.secret && variable.example !== undefined && !/<[^>]+>/.test(variable.example)) {
    return `${key} is a secret: its example must show placeholders such as <token>, not a value`;
  }
  try {
    defaultOf(key, variable);
  } catch (error) {
    return (error as Error).message;
  }
  return undefined;
}

/** `text` wrapped into comment lines of at most `width` characters. */
function comment(text: string, width = 100): string[] {
  const lines: string[] = [];
  let line = '#';
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (line.length > 1 && line.length + 1 + word.length > width) {
      lines.push(line);
      line = '#';
    }
    line += ` ${word}`;
  }
  lines.push(line);
  return lines;
}

/** The comment and line of one key in a `.env.example`. */
function envEntry(key: string, variable: EnvVar<unknown>): string[] {
  const fallback = defaultOf(key, variable);
  let text = variable.doc ?? '';
  if (fallback.kind === 'unset' && fallback.text !== undefined) text += ` Unset: ${fallback.text}.`;
  if (fallback.kind === 'required') text += ' Required.';
  if (variable.secret) text += ' A secret.';
  const lines = comment(text);
  if (fallback.kind === 'value') lines.push(`${key}=${fallback.text}`);
  else if (fallback.kind === 'required') lines.push(`${key}=${variable.example ?? ''}`);
  else lines.push(`# ${key}=${variable.example ?? ''}`);
  return lines;
}

/** A `.env.example`: `header` comment lines, then each group's keys under its title. */
export function renderEnvExample(header: readonly string[], groups: readonly KeyGroup[]): string {
  const out = [...header];
  for (const group of groups) {
    const keys = Object.entries(group.spec);
    if (keys.length === 0) continue;
    out.push('', `# --- ${group.title} ---`);
    for (const [key, variable] of keys) out.push('', ...envEntry(key, variable));
  }
  return `${out.join('\n')}\n`;
}

/** A markdown table, laid out as biome formats one (every column padded to its widest cell). */
export function renderTable(head: readonly string[], rows: readonly (readonly string[])[]): string {
  const cell = (text: string) => text.replaceAll('|', '\\|');
  const body = rows.map((row) => row.map(cell));
  const widths = head.map((title, i) =>
    Math.max(title.length, 3, ...body.map((row) => (row[i] ?? '').length)),
  );
  const line = (cells: readonly string[]) =>
    `| ${cells.map((text, i) => text.padEnd(widths[i] ?? 0)).join(' | ')} |`;
  return [line(head), line(widths.map((width) => '-'.repeat(width))), ...body.map(line)].join('\n');
}

/** The README's default column for a key. */
export function defaultCell(key: string, variable: EnvVar<unknown>): string {
  const fallback = defaultOf(key, variable);
  if (fallback.kind === 'value') return fallback.text === '' ? '(empty)' : `\`${fallback.text}\``;
  if (fallback.kind === 'required') return 'required';
  if (fallback.text === undefined) return 'unset';
  // A value the key itself would take is code; a description (`8 × SMTP_MAX_CONNECTIONS`) is prose.
  try {
    variable.parse(fallback.text);
    return `\`${fallback.text}\``;
  } catch {
    return fallback.text;
  }
}

/** The README table of `spec`: key, default, meaning. */
export function renderKeyTable(spec: Spec, defaults: Readonly<Record<string, string>> = {}): string {
  return renderTable(
    ['key', 'default', 'meaning'],
    Object.entries(spec).map(([key, variable]) => [
      `\`${key}\``,
      defaults[key] ?? defaultCell(key, variable),
      `${variable.doc ?? ''}${variable.secret ? ' A secret.' : ''}`,
    ]),
  );
}

const START = (name: string) => `<!-- config:${name}:start -->`;
const END = (name: string) => `<!-- config:${name}:end -->`;

/** `text` with what lies between the `config:<name>` markers replaced by `body`; throws when they are missing. */
export function replaceMarked(text: string, name: string, body: string, file: string): string {
  const start = text.indexOf(START(name));
  const end = text.indexOf(END(name));
  if (start < 0 || end < start) {
    throw new Error(`${file} has no ${START(name)} … ${END(name)} markers for the generated table`);
  }
  return `${text.slice(0, start + START(name).length)}\n\n${body}\n\n${text.slice(end)}`;
}
