#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { nodeOptionsInUse } from './fleet.js';
import { PROFILES, type Profile } from './profile.js';
import { formatTable, passed } from './result.js';
import { SCENARIOS } from './scenarios/index.js';
import { closeCurrent, runningPids, runSuite } from './suite.js';

/**
 * `pnpm chaos [--profile full|ci] [--only <text>,…] [--list]`: real faults
 * against the built apps (`node apps/<app>/dist/main.js`) and real
 * redis-servers on free ports; prints one table and exits 1 on any lost job,
 * duplicate side effect, 5xx (other than a retried 503/504) or failed check.
 */
const { values } = parseArgs({
  options: {
    profile: { type: 'string', default: 'full' },
    only: { type: 'string' },
    list: { type: 'boolean', default: false },
  },
});

if (values.list) {
  for (const scenario of SCENARIOS) {
    console.log(`${scenario.name}${scenario.ci ? '' : ' (full profile only)'}\n  ${scenario.description}\n`);
  }
  process.exit(0);
}

const profile: Profile | undefined = PROFILES[values.profile as Profile['name']];
if (!profile) {
  console.error(`unknown profile "${values.profile}": use full or ci`);
  process.exit(2);
}
const only = values.only?.split(',').map((s) => s.trim().toLowerCase());
const scenarios = SCENARIOS.filter(
  (s) => (profile.name === 'full' || s.ci) && (!only || only.some((o) => s.name.toLowerCase().includes(o))),
);
if (scenarios.length === 0) {
  console.error('no scenario matches --only');
  process.exit(2);
}

// Whatever ends the run, nothing it started outlives it.
process.on('exit', () => {
  for (const pid of runningPids()) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {}
  }
});
let interrupted = false;
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.once(signal, () => {
    interrupted = true;
    console.error(`chaos: ${signal}, stopping everything it started`);
    void closeCurrent().finally(() => process.exit(130));
  });
}

const log = (line: string) => console.error(line);
const started = performance.now();
log(`chaos: profile ${profile.name}, ${scenarios.length} scenarios`);
const results = await runSuite(profile, scenarios, log);
// An interrupted run has no table to print: the signal handler exits once everything is stopped.
if (interrupted) await new Promise(() => {});
const ok = results.every(passed);
console.log(`\njobfleet chaos, profile ${profile.name}, ${new Date().toISOString()}\n`);
console.log(formatTable(results));
console.log(`\nNode options (fleet.json): ${nodeOptionsInUse()}`);
console.log(
  `\n${ok ? 'PASS' : 'FAIL'}: ${results.filter(passed).length} of ${results.length} scenarios passed in ${((performance.now() - started) / 1_000).toFixed(0)} s`,
);
process.exit(ok ? 0 : 1);
