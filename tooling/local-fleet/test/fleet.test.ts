import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startRedisCluster } from '@jobfleet/test-utils';
import { simpleParser } from 'mailparser';
import { describe, expect, it } from 'vitest';
import { redisAnswers } from '../src/index.js';
import { appPid, busyPorts, commandLine, descendants, launch, running, services } from './support/launch.js';

const launcher = resolve(dirname(fileURLToPath(import.meta.url)), '../dist/main.js');

/** Runs `pnpm start`'s local fleet with its own Redis port, app ports and data directory. */
async function startLauncher() {
  const fleet = await launch(process.execPath, [launcher]);
  const key = /API key\s+(\S+)/.exec(fleet.lines.join('\n'))?.[1];
  return { ...fleet, redisUrl: `redis://127.0.0.1:${fleet.redisPort}`, key };
}

describe('pnpm start (local fleet)', () => {
  it('starts Redis and every app, prints URLs and a development key, delivers a welcome e-mail, and stops cleanly on SIGINT', async () => {
    const fleet = await startLauncher();
    try {
      const output = fleet.lines.join('\n');
      expect(output).toContain(`HTTP API ${fleet.gateway}/v1`);
      expect(output).toMatch(/email-worker\s+metrics http:\/\/127\.0\.0\.1:\d+\/metrics/);
      // Pushing jobs to an endpoint needs one: the http-worker stays off until configured.
      expect(output).toMatch(/http-worker\s+not started: set HTTP_WORKER_QUEUES to run it/);
      const login = /dashboard\s+user "dev", password (\S+)/.exec(output)?.[1];
      expect(login).toBeTruthy();
      const dashboard = `http://127.0.0.1:${fleet.env.DASHBOARD_PORT}`;
      const page = await fetch(`${dashboard}/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', origin: dashboard },
        body: new URLSearchParams({ username: 'dev', password: login ?? '' }),
        redirect: 'manual',
      });
      expect(page.status).toBe(303);
      expect(output).toContain('(started by pnpm start)');
      expect(output).toMatch(new RegExp(`e-mail\\s+outbox ${join(fleet.dataDir, 'outbox')}`));
      expect(fleet.key).toMatch(/^dev_/);
      expect(readFileSync(join(fleet.dataDir, 'dev-api-key'), 'utf8').trim()).toBe(fleet.key);

      const headers = { authorization: `Bearer ${fleet.key}`, 'content-type': 'application/json' };
      const posted = await fetch(`${fleet.gateway}/v1/queues/emails/jobs`, {
        method: 'POST',
        headers,
        body: JSON.stringify({
          name: 'welcome',
          data: { userId: 123, to: 'ada@example.com', name: '<b>x</b>' },
        }),
      });
      expect(posted.status).toBe(202);
      const { id } = (await posted.json()) as { id: string };

      let state = '';
      for (let i = 0; i < 100 && state !== 'completed'; i++) {
        const status = await fetch(`${fleet.gateway}/v1/queues/emails/jobs/${id}`, { headers });
        state = ((await status.json()) as { state: string }).state;
        if (state !== 'completed') await new Promise((r) => setTimeout(r, 100));
      }
      expect(state).toBe('completed');

      const outbox = join(fleet.dataDir, 'outbox');
      const files = readdirSync(outbox).filter((f) => f.endsWith('.eml'));
      expect(files).toHaveLength(1);
      const mail = await simpleParser(readFileSync(join(outbox, files[0] ?? '')));
      expect(mail.to && !Array.isArray(mail.to) ? mail.to.text : '').toContain('ada@example.com');
      expect(mail.html).toContain('&lt;b&gt;x&lt;/b&gt;');
      expect(mail.text).toBeTruthy();
    } finally {
      fleet.child.kill('SIGINT');
    }
    expect((await fleet.exit).code).toBe(0);
    expect(await redisAnswers(fleet.redisUrl)).toBe(false);
  });

  it('restarts an app that crashes, with a log line, and leaves the others running', async () => {
    const fleet = await startLauncher();
    const pid = fleet.child.pid ?? 0;
    let tree: number[] = [];
    try {
      const before = Object.fromEntries(services.map((s) => [s.name, appPid(descendants(pid), s.name)]));
      const crashed = before['email-worker'];
      expect(crashed).toBeDefined();
      // fleet.json's nodeOptions reach the app's node, before its entrypoint.
      expect(commandLine(before.gateway ?? 0)).toMatch(
        / --max-semi-space-size=32 \S*apps\/gateway\/dist\/main\.js$/,
      );
      expect(commandLine(crashed ?? 0)).not.toContain('--max-semi-space-size');

      process.kill(crashed ?? 0, 'SIGKILL');
      await fleet.line(
        /^\[fleet\] email-worker exited unexpectedly \(signal SIGKILL\); restarting it in 1 s/,
      );
      await fleet.line(/^\[fleet\] email-worker is ready again at /);

      const after = Object.fromEntries(services.map((s) => [s.name, appPid(descendants(pid), s.name)]));
      expect(after['email-worker']).toBeDefined();
      expect(after['email-worker']).not.toBe(crashed);
      const ready = await fetch(`http://127.0.0.1:${fleet.env.EMAIL_WORKER_METRICS_PORT}/health/ready`);
      expect(ready.status).toBe(200);
      // Nobody else was touched: same processes, still serving.
      for (const service of services.filter((s) => s.name !== 'email-worker')) {
        expect(after[service.name], service.name).toBe(before[service.name]);
        const port = fleet.env[service.overrideKey];
        const health = await fetch(`http://127.0.0.1:${port}/health/ready`);
        expect(health.status, service.name).toBe(200);
      }
      expect(fleet.child.exitCode).toBeNull();

      // A second crash in a row waits twice as long.
      process.kill(after['email-worker'] ?? 0, 'SIGKILL');
      await fleet.line(
        /^\[fleet\] email-worker exited unexpectedly \(signal SIGKILL\); restarting it in 2 s \(crash 2 in a row\)/,
      );
    } finally {
      tree = descendants(pid);
      fleet.child.kill('SIGTERM');
    }
    expect((await fleet.exit).code).toBe(0);
    // The restart pending at the stop never happens, and nothing outlives the launcher.
    expect(fleet.lines.filter((l) => l.startsWith('[fleet] restarting email-worker'))).toHaveLength(1);
    expect(tree.length).toBeGreaterThanOrEqual(services.length); // Redis and the apps but the crashed one
    expect(tree.filter(running)).toEqual([]);
    expect(await busyPorts(fleet.ports)).toEqual([]);
  }, 120_000);
});

describe('pnpm start on a Redis Cluster', () => {
  it('passes REDIS_CLUSTER_NODES to every app, starts no redis-server, and a job runs on the cluster', async () => {
    const cluster = await startRedisCluster({ masters: 3 });
    try {
      const fleet = await launch(process.execPath, [launcher], { REDIS_CLUSTER_NODES: cluster.seeds });
      try {
        const output = fleet.lines.join('\n');
        expect(output).toMatch(new RegExp(`redis\\s+cluster ${cluster.seeds}`));
        expect(output).not.toContain('(started by pnpm start)');
        const key = /API key\s+(\S+)/.exec(output)?.[1];
        const headers = { authorization: `Bearer ${key}`, 'content-type': 'application/json' };
        const posted = await fetch(`${fleet.gateway}/v1/queues/emails/jobs`, {
          method: 'POST',
          headers,
          body: JSON.stringify({ name: 'welcome', data: { userId: 7, to: 'ada@example.com', name: 'Ada' } }),
        });
        expect(posted.status).toBe(202);
        const { id } = (await posted.json()) as { id: string };
        const waited = await fetch(`${fleet.gateway}/v1/queues/emails/jobs/${id}?waitMs=20000`, { headers });
        expect(((await waited.json()) as { state: string }).state).toBe('completed');
        // The job lives under the queue's own hash tag on the cluster.
        const owner = await cluster.ownerOf(await cluster.keySlot('{jobfleet:emails}'));
        expect(await cluster.cli(['exists', `{jobfleet:emails}:emails:${id}`], owner)).toContain('1');
      } finally {
        fleet.child.kill('SIGTERM');
      }
      expect((await fleet.exit).code).toBe(0);
      expect(await redisAnswers(`redis://127.0.0.1:${fleet.redisPort}`)).toBe(false);
    } finally {
      await cluster.stop();
    }
  });
});
