import { Fleet } from './fleet.js';
import type { Profile } from './profile.js';
import type { ScenarioResult } from './result.js';
import type { Scenario } from './scenarios/index.js';

/** The fleet of the scenario running now, for the last-resort cleanup of an interrupted run. */
let current: Fleet | undefined;

/** PIDs of every process and redis-server the running scenario started. */
export const runningPids = (): number[] => current?.pids() ?? [];

/** Closes the running scenario's fleet (an interrupted run). */
export const closeCurrent = async (): Promise<void> => {
  await current?.close();
};

/**
 * Runs each scenario in a fleet of its own (its own redis-server, SMTP sink and
 * apps on free ports), one after the other, and closes that fleet however the
 * scenario ended. A scenario that throws or outlasts the profile's bound is a
 * failed row, not the end of the run.
 */
export async function runSuite(
  profile: Profile,
  scenarios: readonly Scenario[],
  log: (line: string) => void,
): Promise<ScenarioResult[]> {
  const results: ScenarioResult[] = [];
  for (const scenario of scenarios) {
    const fleet = new Fleet();
    current = fleet;
    const started = performance.now();
    log(`▶ ${scenario.name}`);
    let timer: NodeJS.Timeout | undefined;
    try {
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`did not finish within ${profile.scenarioTimeoutMs} ms`)),
          profile.scenarioTimeoutMs,
        );
      });
      const run = scenario.run({
        name: scenario.name,
        profile,
        fleet,
        log: (message) => log(`  ${scenario.name}: ${message}`),
      });
      // A run cut short by the timeout fails later, once its fleet is gone; that is expected.
      run.catch(() => {});
      results.push(await Promise.race([run, timeout]));
    } catch (error) {
      results.push({
        scenario: scenario.name,
        accepted: 0,
        delivered: 0,
        lost: 0,
        duplicated: 0,
        serverErrors: fleet.crashes.length,
        slowestMs: 0,
        recoveryMs: undefined,
        failures: [`the scenario failed: ${(error as Error).message.slice(0, 2_000)}`],
        notes: fleet.crashes.map((crash) => `crash: ${crash}`),
      });
    } finally {
      clearTimeout(timer);
      await fleet.close();
      current = undefined;
    }
    log(`  done in ${((performance.now() - started) / 1_000).toFixed(1)} s`);
  }
  return results;
}
