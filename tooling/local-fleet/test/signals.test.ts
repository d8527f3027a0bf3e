import { describe, expect, it } from 'vitest';
import {
  appPid,
  busyPorts,
  descendants,
  type Launched,
  launch,
  running,
  services,
} from './support/launch.js';

/** Posts a welcome e-mail through the gateway and resolves once a worker has taken it. */
async function emailInFlight(fleet: Launched): Promise<void> {
  const key = /API key\s+(\S+)/.exec(fleet.lines.join('\n'))?.[1];
  const headers = { authorization: `Bearer ${key}`, 'content-type': 'application/json' };
  const posted = await fetch(`${fleet.gateway}/v1/queues/emails/jobs`, {
    method: 'POST',
    headers,
    body: JSON.stringify({ name: 'welcome', data: { userId: 1, to: 'ada@example.com', name: 'Ada' } }),
  });
  expect(posted.status).toBe(202);
  const { id } = (await posted.json()) as { id: string };
  let state = '';
  for (let i = 0; i < 100 && state !== 'active'; i++) {
    const status = await fetch(`${fleet.gateway}/v1/queues/emails/jobs/${id}`, { headers });
    state = ((await status.json()) as { state: string }).state;
    if (state !== 'active') await new Promise((r) => setTimeout(r, 100));
  }
  expect(state).toBe('active');
}

describe('stopping `pnpm start` by a signal to one PID', () => {
  it('npm start: SIGTERM to the npm process stops every app, then Redis, and frees every port', async () => {
    const fleet = await launch('npm', ['start', '--silent'], { SHUTDOWN_TIMEOUT_MS: '10000' });
    const pid = fleet.child.pid ?? 0;
    const tree = descendants(pid);
    // npm → the launcher → the local fleet → Redis and every app.
    expect(tree.filter((p) => services.some((s) => appPid([p], s.name) === p))).toHaveLength(services.length);
    const started = performance.now();
    process.kill(pid, 'SIGTERM');
    expect(await fleet.exit).toEqual({ code: 0, signal: null });
    expect(performance.now() - started).toBeLessThan(10_000 + 5_000);
    expect(fleet.lines).toContain('[fleet] stopping redis-server');
    for (const service of services)
      expect(fleet.lines).toContain(`[fleet] ${service.name} exited with code 0`);
    expect(tree.filter(running)).toEqual([]);
    expect(await busyPorts(fleet.ports)).toEqual([]);
  }, 120_000);

  it('node scripts/jobfleet.mjs start: one SIGINT, even delivered twice, lets in-flight work finish; a second one kills at once', async () => {
    const fleet = await launch(process.execPath, ['scripts/jobfleet.mjs', 'start'], {
      // An e-mail that takes a minute keeps the e-mail worker busy well past the test.
      EMAIL_SEND_DELAY_MS: '60000',
      SHUTDOWN_TIMEOUT_MS: '60000',
    });
    const pid = fleet.child.pid ?? 0;
    const tree = descendants(pid);
    const emailWorker = appPid(tree, 'email-worker') ?? 0;
    expect(emailWorker).toBeGreaterThan(0);
    await emailInFlight(fleet);

    // A terminal's Ctrl-C under npm: the launcher gets the terminal's copy and npm's.
    process.kill(pid, 'SIGINT');
    process.kill(pid, 'SIGINT');
    const first = performance.now();
    await fleet.line(/^\[fleet\] SIGINT: stopping/);
    // The idle apps stop; the e-mail worker waits for its job.
    for (const service of services.filter((s) => s.name !== 'email-worker'))
      await fleet.line(new RegExp(`^\\[fleet\\] ${service.name} exited with code 0`));
    // Past the window in which copies of one signal count as one.
    await new Promise((r) => setTimeout(r, Math.max(0, 1_100 - (performance.now() - first))));
    expect(running(emailWorker)).toBe(true);
    expect(fleet.lines.some((l) => l.includes('again: killing'))).toBe(false);

    const second = performance.now();
    process.kill(pid, 'SIGINT');
    await fleet.line(/^\[fleet\] SIGINT again: killing every app now/);
    const { code } = await fleet.exit;
    expect(code).not.toBe(0);
    expect(performance.now() - second).toBeLessThan(5_000);
    expect(fleet.lines).toContain('[fleet] email-worker exited with signal SIGKILL');
    expect(fleet.lines).toContain('[fleet] stopping redis-server');
    expect(tree.filter(running)).toEqual([]);
    expect(await busyPorts(fleet.ports)).toEqual([]);
  }, 120_000);
});
