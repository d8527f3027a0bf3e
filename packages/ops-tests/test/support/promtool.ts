import { spawnSync } from 'node:child_process';

export interface PromtoolResult {
  ok: boolean;
  /** stdout and stderr together, trimmed. */
  output: string;
}

/**
 * Runs `promtool <args>` (the binary is `$PROMTOOL_BIN` or `promtool`). Throws
 * when promtool is missing, naming the package that provides it.
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
