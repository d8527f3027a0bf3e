/**
 * Reads the runnable examples out of a README: the ```sh blocks that send
 * `curl` to the gateway (`http://127.0.0.1:3000` or `http://localhost:3000`),
 * with the `# → [status] <answer>` lines under them. Input: markdown text.
 * Output: the shell lines a reader would type, in order, each with its line
 * number; {@link runShellLine} runs one the way sh does, with a stand-in
 * `curl` that sends its request to the fleet under test.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type ProcessOutcome, runToExit } from '@jobfleet/test-utils';

/** One shell line (continuations joined) of an example block. */
export interface Step {
  /** `curl …` to the gateway; `NAME=…`; `ls <dir>`; or anything else (which the check refuses to run). */
  kind: 'curl' | 'assign' | 'ls' | 'other';
  /** 1-based line of the command's first line in the README. */
  line: number;
  /** The command as written, continuation lines joined. */
  command: string;
  /** For `assign`, the variable. */
  name?: string;
  /** The answer shown under a curl, if any. */
  answer?: ShownAnswer;
}

/**
 * A `# → [status] <answer>` line, continued on the `#` lines after it that
 * are indented by two or more spaces.
 */
export interface ShownAnswer {
  line: number;
  /** The status shown; undefined when only a body is shown (then any 2xx). */
  status?: number;
  /** The answer as shown (JSON with `…`, or the first lines of a text), or undefined when only a status is. */
  body?: string;
}

interface Block {
  language: string;
  /** 1-based line of the block's first content line. */
  firstLine: number;
  lines: string[];
}

function blocksOf(markdown: string): Block[] {
  const blocks: Block[] = [];
  let open: Block | undefined;
  markdown.split('\n').forEach((text, index) => {
    const fence = /^```(\S*)/.exec(text);
    if (fence && !open) open = { language: fence[1] ?? '', firstLine: index + 2, lines: [] };
    else if (fence && open) {
      blocks.push(open);
      open = undefined;
    } else open?.lines.push(text);
  });
  return blocks;
}

/** Whether a shell command is a curl against the gateway. */
function isGatewayCurl(command: string): boolean {
  return (
    /^curl\s/.test(command) && /(^|\s|['"])http:\/\/(127\.0\.0\.1|localhost):3000(\/|\s|['"]|$)/.test(command)
  );
}

function kindOf(command: string): Pick<Step, 'kind' | 'name'> {
  if (isGatewayCurl(command)) return { kind: 'curl' };
  const assign = /^([A-Za-z_][A-Za-z0-9_]*)=/.exec(command);
  if (assign) return { kind: 'assign', name: assign[1] as string };
  if (/^ls\s/.test(command)) return { kind: 'ls' };
  return { kind: 'other' };
}

/** The steps of one ```sh block, or none when it sends nothing to the gateway. */
function stepsOfBlock(block: Block): Step[] {
  const steps: Step[] = [];
  const { lines } = block;
  let index = 0;
  while (index < lines.length) {
    const line = block.firstLine + index;
    let text = lines[index] ?? '';
    index += 1;
    const trimmed = text.trim();
    if (trimmed === '') continue;
    if (trimmed.startsWith('#')) {
      if (/^#\s*→/.test(trimmed)) {
        throw new Error(`line ${line}: an answer line must follow a curl command directly`);
      }
      continue;
    }
    while (text.endsWith('\\') && index < lines.length) {
      // Kept as written: sh joins the lines itself.
      text = `${text}\n${lines[index] ?? ''}`;
      index += 1;
    }
    const command = text.trim();
    const step: Step = { line, command, ...kindOf(command) };
    steps.push(step);
    if (step.kind !== 'curl') continue;
    const next = (lines[index] ?? '').trim();
    if (/^#\s*(\d{3}\b|[{[])/.test(next)) {
      throw new Error(`line ${block.firstLine + index}: write an answer as "# → <status> <answer>"`);
    }
    const shown = /^#\s*→\s*(.*)$/.exec(next);
    if (!shown) continue;
    const answerLine = block.firstLine + index;
    const parts = [(shown[1] ?? '').trim()];
    index += 1;
    while (index < lines.length && /^#\s{2,}\S/.test(lines[index] ?? '')) {
      parts.push((lines[index] ?? '').replace(/^#\s+/, ''));
      index += 1;
    }
    const [, status, body] = /^(\d{3}\b)?\s*([\s\S]*)$/.exec(parts.join('\n')) as RegExpExecArray;
    step.answer = {
      line: answerLine,
      ...(status ? { status: Number(status) } : {}),
      ...(body?.trim() ? { body: body.trim() } : {}),
    };
  }
  return steps.some((step) => step.kind === 'curl') ? steps : [];
}

/** The steps of every ```sh block of `markdown` that sends curl requests to the gateway, in order. */
export function examplesOf(markdown: string): Step[] {
  return blocksOf(markdown)
    .filter((block) => block.language === 'sh' || block.language === 'bash')
    .flatMap(stepsOfBlock);
}

/** The README files whose examples are checked: the root one first, then every app's. */
export function readmeFiles(root: string): string[] {
  const apps = join(root, 'apps');
  return [
    'README.md',
    ...readdirSync(apps)
      .sort()
      .map((app) => join('apps', app, 'README.md'))
      .filter((file) => existsSync(join(root, file))),
  ];
}

/** The examples of one README (`file` relative to `root`); a malformed one throws, naming the file. */
export function readExamples(root: string, file: string): Step[] {
  try {
    return examplesOf(readFileSync(join(root, file), 'utf8'));
  } catch (error) {
    throw new Error(`${file}: ${(error as Error).message}`);
  }
}

/** Marks `…` outside strings: in an object, "more keys may follow"; elsewhere, any value. */
export const ELLIPSIS = '…';

/**
 * Turns an answer as the README shows it into JSON: `…` outside a string
 * becomes a `"…": "…"` member in an object (more keys may follow) or the
 * string `"…"` in an array or as a value (anything).
 */
export function parseShownJson(text: string): unknown {
  let out = '';
  const stack: Array<'object' | 'array'> = [];
  let expectKey = false;
  let inString = false;
  for (let i = 0; i < text.length; i += 1) {
    const char = text[i] as string;
    if (inString) {
      out += char;
      if (char === '\\') {
        out += text[i + 1] ?? '';
        i += 1;
      } else if (char === '"') inString = false;
      continue;
    }
    if (char === '"') inString = true;
    else if (char === '{') {
      stack.push('object');
      expectKey = true;
    } else if (char === '[') stack.push('array');
    else if (char === '}' || char === ']') stack.pop();
    else if (char === ',') expectKey = stack.at(-1) === 'object';
    else if (char === ':') expectKey = false;
    if (char === ELLIPSIS) {
      out += stack.at(-1) === 'object' && expectKey ? `"${ELLIPSIS}":"${ELLIPSIS}"` : `"${ELLIPSIS}"`;
      continue;
    }
    out += char;
  }
  return JSON.parse(out);
}

const describe = (value: unknown) => JSON.stringify(value) ?? String(value);

/** Keys whose values are ids or times: the README shows one example of them. */
const ID_OR_TIME = /^(id|.+Id|.+Ids|.+At)$/;

/** A pattern for a shown string: `…` stands for any text, and in ids and times any digits for digits. */
function patternOf(shown: string, idOrTime: boolean): RegExp {
  const literal = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const part = (text: string) => (idOrTime ? text.split(/\d+/).map(literal).join('\\d+') : literal(text));
  return new RegExp(`^${shown.split(ELLIPSIS).map(part).join('[\\s\\S]*')}$`);
}

/**
 * How `actual` differs from the answer shown (parsed by {@link parseShownJson}),
 * as `<JSON pointer>: <what>` texts; empty when it matches. Objects must have
 * exactly the keys shown unless `…` says more may follow; a string with `…`
 * matches any text in its place; `"…"` and `[…]` match anything; the values
 * of ids and times (keys `id`, `…Id`, `…Ids`, `…At`) may differ in their
 * digits, as they do from run to run; every other value must be equal.
 */
export function answerDifferences(shown: unknown, actual: unknown, path = '', idOrTime = false): string[] {
  const at = path || '/';
  if (shown === ELLIPSIS) return [];
  if (typeof shown === 'string' && (idOrTime || shown.includes(ELLIPSIS))) {
    return typeof actual === 'string' && patternOf(shown, idOrTime).test(actual)
      ? []
      : [`${at}: ${describe(actual)} does not match ${describe(shown)}`];
  }
  if (Array.isArray(shown)) {
    if (!Array.isArray(actual)) return [`${at}: ${describe(actual)} is not an array`];
    const open = shown.at(-1) === ELLIPSIS;
    const items = open ? shown.slice(0, -1) : shown;
    if (open ? actual.length < items.length : actual.length !== items.length) {
      return [`${at}: ${actual.length} items, shown ${open ? 'at least ' : ''}${items.length}`];
    }
    return items.flatMap((item, index) =>
      answerDifferences(item, actual[index], `${path}/${index}`, idOrTime),
    );
  }
  if (shown !== null && typeof shown === 'object') {
    if (actual === null || typeof actual !== 'object' || Array.isArray(actual)) {
      return [`${at}: ${describe(actual)} is not an object`];
    }
    const expected = shown as Record<string, unknown>;
    const got = actual as Record<string, unknown>;
    const problems = Object.entries(expected)
      .filter(([key]) => key !== ELLIPSIS)
      .flatMap(([key, value]) =>
        key in got
          ? answerDifferences(value, got[key], `${path}/${key}`, ID_OR_TIME.test(key))
          : [`${path}/${key}: missing`],
      );
    if (!(ELLIPSIS in expected)) {
      for (const key of Object.keys(got)) {
        if (!(key in expected)) problems.push(`${path}/${key}: not shown (${describe(got[key])})`);
      }
    }
    return problems;
  }
  return Object.is(shown, actual) ? [] : [`${at}: ${describe(actual)}, shown ${describe(shown)}`];
}

/**
 * How an answer differs from what a README shows. A JSON answer is compared
 * by {@link answerDifferences}; any other (a CSV file, say) by its first line,
 * since the rows under it change from run to run.
 */
export function shownBodyDifferences(shown: string, text: string): string[] {
  if (!/^[[{"]/.test(shown)) {
    const [first] = shown.split('\n');
    // CSV lines end in CRLF (RFC 4180).
    const [got] = text.split(/\r?\n/);
    return got === first ? [] : [`first line ${describe(got)}, shown ${describe(first)}`];
  }
  let actual: unknown;
  try {
    actual = JSON.parse(text);
  } catch {
    return [`the body is not JSON: ${text.slice(0, 200)}`];
  }
  return answerDifferences(parseShownJson(shown), actual);
}

/** What `sh` printed for one line, and the requests the stand-in curl sent meanwhile. */
export interface ShellResult extends ProcessOutcome {
  requests: Array<{ method: string; url: string; status: number }>;
  /** For an assignment, the value the variable got. */
  value?: string;
}

const STAND_IN = fileURLToPath(new URL('curl-stand-in.mjs', import.meta.url));

/**
 * A shell for README lines: `sh` in `cwd`, with the variables set so far and
 * a `curl` that sends to `gatewayUrl` (`curl-stand-in.mjs`) first on PATH.
 */
export class ReadmeShell {
  readonly vars: Record<string, string> = {};
  readonly #bin = mkdtempSync(join(tmpdir(), 'jobfleet-readme-bin-'));

  constructor(
    readonly cwd: string,
    readonly gatewayUrl: string,
  ) {
    writeFileSync(join(this.#bin, 'curl'), `#!/bin/sh\nexec '${process.execPath}' '${STAND_IN}' "$@"\n`, {
      mode: 0o755,
    });
  }

  /** Runs one step's command; an assignment also sets the variable for the steps after it. */
  async run(step: Pick<Step, 'command' | 'kind' | 'name'>, command = step.command): Promise<ShellResult> {
    const log = join(this.#bin, 'requests.jsonl');
    writeFileSync(log, '');
    const script = step.kind === 'assign' ? `set -e\n${command}\nprintf %s "$${step.name}"` : command;
    const result = await runToExit('sh', ['-c', script], {
      cwd: this.cwd,
      env: {
        PATH: `${this.#bin}:${process.env.PATH ?? ''}`,
        HOME: this.cwd,
        ...this.vars,
        README_GATEWAY_URL: this.gatewayUrl,
        README_CURL_LOG: log,
      },
    });
    const requests = readFileSync(log, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as ShellResult['requests'][number]);
    if (step.kind === 'assign' && step.name && result.code === 0) {
      this.vars[step.name] = result.stdout;
      return { ...result, requests, value: result.stdout };
    }
    return { ...result, requests };
  }

  close(): void {
    rmSync(this.#bin, { recursive: true, force: true });
  }
}
