import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  ensureBuilt,
  freePort,
  promtoolCheckMetrics,
  type ServiceProcess,
  useServiceProcesses,
  useTestRedis,
} from '@jobfleet/test-utils';
import { beforeAll, describe, expect, it } from 'vitest';
import { parsePasswordHash, verifyPassword } from '../src/password.js';
import { parseUsers } from '../src/users.js';
import { PASSWORDS, SESSION_SECRET, usersJson } from './helpers.js';

const PACKAGE_DIR = fileURLToPath(new URL('..', import.meta.url));
const HASH_PASSWORD = join(PACKAGE_DIR, 'dist', 'hash-password.js');

const redis = useTestRedis();
const processes = useServiceProcesses({ packageDir: PACKAGE_DIR, name: 'the dashboard' });

// turbo's `test` task may run before this package's own build, and a stale `dist/` would test old code.
beforeAll(() => {
  ensureBuilt(PACKAGE_DIR, { outputs: ['dist/main.js', 'dist/hash-password.js'] });
}, 120_000);

/** The base URL the dashboard logged as listening on. */
async function listeningUrl(dashboard: ServiceProcess): Promise<string> {
  const line = await dashboard.waitForLog((l) => l.msg === 'dashboard listening');
  return String(line.url).replace('0.0.0.0', '127.0.0.1');
}

async function start(env: Record<string, string>) {
  return processes.spawn({
    REDIS_URL: redis.url,
    JOBFLEET_PREFIX: redis.prefix,
    HOST: '127.0.0.1',
    PORT: String(await freePort()),
    ...env,
  });
}

describe('node dist/main.js', () => {
  it('refuses to start without users, naming what to set', async () => {
    const dashboard = await start({});
    expect((await dashboard.exited).code).toBe(1);
    expect(dashboard.stderr()).toContain('DASHBOARD_USERS: no dashboard users configured');
    expect(dashboard.stderr()).toContain('DASHBOARD_AUTH=disabled');
  });

  it('refuses bad configuration with one message naming every bad key', async () => {
    const dashboard = await start({ PORT: 'x', DASHBOARD_SESSION_SECRET: 'short', DASHBOARD_USERS: '[1]' });
    expect((await dashboard.exited).code).toBe(1);
    for (const key of ['PORT:', 'DASHBOARD_SESSION_SECRET:', 'DASHBOARD_USERS:']) {
      expect(dashboard.stderr()).toContain(key);
    }
  });

  it('serves on PORT with logins, clean /metrics and health, and exits 0 on SIGTERM', async () => {
    const dashboard = await start({
      DASHBOARD_USERS: await usersJson(),
      DASHBOARD_SESSION_SECRET: SESSION_SECRET,
    });
    const url = await listeningUrl(dashboard);
    const overview = await fetch(`${url}/`, { redirect: 'manual' });
    expect(overview.status).toBe(302);
    expect(overview.headers.get('location')).toBe('/login?next=%2F');
    const login = await fetch(`${url}/login`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: url },
      body: new URLSearchParams({ username: 'ops', password: PASSWORDS.ops }).toString(),
    });
    expect(login.status).toBe(303);
    const cookie = login.headers.getSetCookie()[0]?.split(';')[0] ?? '';
    expect((await fetch(`${url}/`, { headers: { cookie } })).status).toBe(200);
    expect((await fetch(`${url}/health/live`)).status).toBe(200);
    expect((await fetch(`${url}/health/ready`)).status).toBe(200);
    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metrics).toContain('jobfleet_dashboard_logins_total{outcome="success"} 1');
    expect(metrics).toContain('jobfleet_http_request_duration_seconds_bucket');
    expect(promtoolCheckMetrics(metrics)).toBe('');
    dashboard.child.kill('SIGTERM');
    expect(await dashboard.exited).toEqual({ code: 0, signal: null });
    expect(dashboard.logs.some((l) => l.msg === 'shutdown complete')).toBe(true);
  });

  it('runs with DASHBOARD_AUTH=disabled, warning loudly, and warns about a missing session secret', async () => {
    const dashboard = await start({ DASHBOARD_AUTH: 'disabled' });
    const url = await listeningUrl(dashboard);
    expect((await fetch(`${url}/`)).status).toBe(200);
    const warnings = dashboard.logs.filter((l) => l.level === 40).map((l) => String(l.msg));
    expect(warnings.some((m) => m.includes('AUTHENTICATION IS OFF'))).toBe(true);
    expect(warnings.some((m) => m.startsWith('DASHBOARD_SESSION_SECRET is not set'))).toBe(true);
  });
});

describe('hash-password', () => {
  const run = (args: string[], input: string) =>
    spawnSync(process.execPath, [HASH_PASSWORD, ...args], { input, encoding: 'utf8', cwd: PACKAGE_DIR });

  it('prints a documented-format hash of the password on standard input', async () => {
    const result = run([], 'a long passphrase\n');
    expect(result.status).toBe(0);
    const hash = result.stdout.trim();
    expect(hash).toMatch(/^scrypt\$32768\$8\$1\$/);
    expect(await verifyPassword(parsePasswordHash(hash), 'a long passphrase')).toBe(true);
    expect(result.stdout).not.toContain('a long passphrase');
  });

  it('prints a whole DASHBOARD_USERS entry with --username and --role', () => {
    const result = run(['--username', 'ops', '--role', 'admin'], 'secret');
    expect(result.status).toBe(0);
    const [user] = parseUsers(`[${result.stdout.trim()}]`);
    expect(user).toMatchObject({ username: 'ops', role: 'admin', credential: { kind: 'hash' } });
  });

  it('refuses an empty password and an unknown role', () => {
    expect(run([], '').status).toBe(1);
    expect(run(['--role', 'root'], 'x').status).toBe(2);
  });

  it('is the package\'s "hash-password" script', () => {
    const manifest = JSON.parse(readFileSync(join(PACKAGE_DIR, 'package.json'), 'utf8'));
    expect(manifest.scripts['hash-password']).toBe('node dist/hash-password.js');
  });
});
