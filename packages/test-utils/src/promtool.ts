import { spawnSync } from 'node:child_process';

export interface PromtoolResult {
  ok: boolean;
  /** stdout and stderr together, trimmed. */
  output: string;
}

/**
 * Runs `promtool <args>` (the binary is `$PROMTOOL_BIN` or `promtool`). Throws
 * when promtool cannot be run, naming the package that provides it.
 */
export function promtool(
  args: readonly string[],
  options: { cwd?: string; input?: string } = {},
): PromtoolResult {
  const binary = process.env.PROMTOOL_BIN ?? 'promtool';
  const result = spawnSync(binary, args, {
    cwd: options.cwd,
    input: options.input,
    encoding: 'utf8',
    timeout: 60_000,
  });
  if (result.error) {
    throw new Error(
      `could not run promtool ("${binary}"): ${result.error.message}. Debian/Ubuntu: apt-get install prometheus, or set PROMTOOL_BIN`,
    );
  }
  return { ok: result.status === 0, output: `${result.stdout}${result.stderr}`.trim() };
}

/**
 * Runs `promtool check metrics` on a scrape and returns what it printed: empty
 * when the text is clean.
 */
export function promtoolCheckMetrics(text: string): string {
  return promtool(['check', 'metrics'], { input: text }).output;
}
