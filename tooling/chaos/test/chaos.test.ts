import { fileURLToPath } from 'node:url';
import { FLEET_FILE, readFleet } from '@jobfleet/fleet';
import { runToExit } from '@jobfleet/test-utils';
import { describe, expect, it } from 'vitest';

const MAIN = fileURLToPath(new URL('../dist/main.js', import.meta.url));

/** Runs the built CLI to its end: exit code, standard output and standard error. */
const runChaos = (args: string[]) => runToExit(process.execPath, [MAIN, ...args]);

describe('pnpm chaos --profile ci', () => {
  it('runs every short scenario against the real apps and Redis, prints the table and passes', async () => {
    const { code, stdout, stderr } = await runChaos(['--profile', 'ci']);
    // The table is the point of the run: print it with the test output.
    console.log(stdout);
    expect(stdout).toMatch(
      /\| scenario +\| accepted \| delivered \| lost \| duplicated \| 5xx \| slowest answer \| recovery time \| result \|/,
    );
    for (const scenario of [
      'kill -9 e-mail worker',
      'kill -9 Redis (AOF everysec)',
      'Redis frozen (SIGSTOP)',
      'CLIENT KILL (normal, pubsub)',
      'Redis full (maxmemory)',
      'two graceful restarts, long jobs',
      'shutdown, slow SMTP server',
      'worker cut off > lockDuration',
      'hostile HTTP requests',
    ]) {
      expect(stdout).toContain(`| ${scenario} `);
    }
    // The apps run as deployed: with fleet.json's Node options.
    const gatewayOptions =
      readFleet(FLEET_FILE).apps.find((app) => app.name === 'gateway')?.nodeOptions ?? [];
    expect(gatewayOptions.length).toBeGreaterThan(0);
    expect(stdout).toContain(`gateway ${gatewayOptions.join(' ')}`);
    expect(stdout, stderr).toMatch(/^PASS: /m);
    expect(code, `${stdout}\n${stderr}`).toBe(0);
    // No bound on the time: under 2 minutes on an idle 2-core machine, much more when it is shared.
  }, 480_000);

  it('exits 2 on an unknown profile, before starting anything', async () => {
    const { code, stderr } = await runChaos(['--profile', 'nope']);
    expect(code).toBe(2);
    expect(stderr).toContain('unknown profile');
  });
});
