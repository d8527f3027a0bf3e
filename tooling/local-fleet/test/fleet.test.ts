import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { freePort } from '@jobfleet/test-utils';
import { simpleParser } from 'mailparser';
import { describe, expect, it } from 'vitest';
import { FLEET, redisAnswers } from '../src/index.js';

const launcher = resolve(dirname(fileURLToPath(import.meta.url)), '../dist/main.js');

/** Runs `pnpm start`'s launcher with its own Redis port, app ports and data directory. */
async function startLauncher() {
  const dataDir = mkdtempSync(join(tmpdir(), 'jobfleet-fleet-'));
  const redisPort = await freePort();
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    JOBFLEET_DATA_DIR: dataDir,
    JOBFLEET_LOCAL_REDIS_PORT: String(redisPort),
    LOG_LEVEL: 'warn',
  };
  // Every app on a free port, never the machine's 3000, 3001, 9101, ….
  for (const service of FLEET) env[service.overrideKey] = String(await freePort());
  const gatewayPort = env.GATEWAY_PORT;
  const child = spawn(process.execPath, [launcher], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  createInterface({ input: child.stderr }).on('line', (line) => lines.push(line));
  const ready = new Promise<void>((resolve, reject) => {
    createInterface({ input: child.stdout }).on('line', (line) => {
      lines.push(line);
      if (line.startsWith('Press Ctrl-C')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`launcher exited with ${code}:\n${lines.join('\n')}`)));
  });
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  await ready;
  const key = /API key\s+(\S+)/.exec(lines.join('\n'))?.[1];
  return {
    child,
    lines,
    exit,
    dataDir,
    env,
    redisUrl: `redis://127.0.0.1:${redisPort}`,
    gateway: `http://127.0.0.1:${gatewayPort}`,
    key,
  };
}

describe('pnpm start (local fleet)', () => {
  it('starts Redis and every app, prints URLs and a development key, delivers a welcome e-mail, and stops cleanly on SIGINT', async () => {
    const fleet = await startLauncher();
    try {
      const output = fleet.lines.join('\n');
      expect(output).toContain(`HTTP API ${fleet.gateway}/v1`);
      expect(output).toMatch(/email-worker\s+metrics http:\/\/127\.0\.0\.1:\d+\/metrics/);
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
    expect(await fleet.exit).toBe(0);
    expect(await redisAnswers(fleet.redisUrl)).toBe(false);
  });
});
