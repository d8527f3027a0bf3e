import { spawnSync } from 'node:child_process';

/**
 * Runs `promtool check metrics` on a scrape and returns what it printed: empty
 * when the text is clean. Throws when promtool is missing, naming the package.
 */
export function promtoolCheckMetrics(text: string): string {
  const binary = process.env.PROMTOOL_BIN ?? 'promtool';
  const result = spawnSync(binary, ['check', 'metrics'], { input: text, encoding: 'utf8' });
  if (result.error) {
    throw new Error(
      `promtool not found ("${binary}"): Debian/Ubuntu apt-get install prometheus, or set PROMTOOL_BIN`,
    );
  }
  return `${result.stdout}${result.stderr}`.trim();
}
