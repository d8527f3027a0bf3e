import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig } from '@jobfleet/service-kit';
import { freePort } from '@jobfleet/test-utils';
import { describe, expect, it } from 'vitest';
import { buildDashboard } from '../src/app.js';
import { resolveAuth } from '../src/auth-mode.js';
import { dashboardConfig } from '../src/config.js';
import { captureLogger, PASSWORDS, usersJson } from './helpers.js';

const load = (env: Record<string, string>) => loadConfig(dashboardConfig, env);

const configError = (work: () => unknown): ConfigError => {
  try {
    work();
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected a ConfigError');
};

describe('dashboardConfig', () => {
  it('has the documented defaults', async () => {
    const config = load({ DASHBOARD_USERS: await usersJson() });
    expect(config).toMatchObject({
      port: 3001,
      host: '0.0.0.0',
      redisUrl: 'redis://127.0.0.1:6379',
      jobfleetPrefix: 'jobfleet',
      dashboardAuth: 'enabled',
      dashboardUsersFile: undefined,
      dashboardSessionSecret: undefined,
      dashboardSessionTtlMs: 28_800_000,
      dashboardCookieSecure: 'auto',
      dashboardPublicUrl: undefined,
      dashboardTrustProxy: false,
      dashboardLoginMaxFailures: 5,
      dashboardLoginLockoutMs: 900_000,
      dashboardRefreshMs: 10_000,
    });
    expect(config.dashboardUsers?.map((u) => [u.username, u.role, u.credential.kind])).toEqual([
      ['ops', 'admin', 'hash'],
      ['watcher', 'viewer', 'hash'],
    ]);
  });

  it('names every bad user entry in one message, never quoting a password or a hash', async () => {
    const hash = (JSON.parse(await usersJson()) as Array<{ passwordHash: string }>)[0]?.passwordHash ?? '';
    const users = [
      { username: 'a', passwordHash: hash, role: 'root' },
      { username: 'b', passwordHash: hash, password: 'both-given', role: 'admin' },
      { username: 'c', role: 'viewer' },
      { username: 'd', passwordHash: 'scrypt$16384$8$abc$def', role: 'viewer' },
      { username: 'e', password: 'pw-e', role: 'viewer', extra: true },
      { username: 'f', password: 'pw-f', role: 'viewer' },
      { username: 'F', password: 'pw-f2', role: 'viewer' },
    ];
    const error = configError(() => load({ DASHBOARD_USERS: JSON.stringify(users) }));
    const message = error.message;
    expect(message).toContain('DASHBOARD_USERS:');
    expect(message).toContain('entry 0 (user "a"): /role');
    expect(message).toContain('entry 1 (user "b"): give exactly one of passwordHash and password');
    expect(message).toContain('entry 2 (user "c"): give exactly one of passwordHash and password');
    expect(message).toContain(
      'entry 3 (user "d"): passwordHash must have the form scrypt$N$r$p$saltBase64$hashBase64',
    );
    expect(message).toContain('entry 4 (user "e"): /extra is not an allowed property');
    expect(message).toContain('entry 6 (user "F"): the username is listed twice');
    for (const secret of [hash, 'both-given', 'pw-e', 'pw-f2', 'abc$def'])
      expect(message).not.toContain(secret);
  });

  it('refuses a users value that is not JSON without quoting it', () => {
    const error = configError(() => load({ DASHBOARD_USERS: '[{"username":"ops","password":"hunter2"' }));
    expect(error.message).toMatch(/DASHBOARD_USERS: is not valid JSON/);
    expect(error.message).not.toContain('hunter2');
  });

  it('reads users from DASHBOARD_USERS_FILE', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dashboard-users-'));
    try {
      const file = join(dir, 'users.json');
      writeFileSync(file, await usersJson());
      expect(load({ DASHBOARD_USERS_FILE: file }).dashboardUsersFile).toHaveLength(2);
      expect(configError(() => load({ DASHBOARD_USERS_FILE: join(dir, 'missing.json') })).message).toContain(
        'DASHBOARD_USERS_FILE: cannot read the users file: ENOENT',
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('wants a session secret of at least 32 characters and an http(s) public URL', () => {
    const error = configError(() =>
      load({ DASHBOARD_SESSION_SECRET: 'too-short-secret', DASHBOARD_PUBLIC_URL: 'ftp://example.com' }),
    );
    expect(error.message).toContain('DASHBOARD_SESSION_SECRET: must be at least 32 characters');
    expect(error.message).not.toContain('too-short-secret');
    expect(error.message).toContain('DASHBOARD_PUBLIC_URL: must use http: or https:');
    expect(load({ DASHBOARD_PUBLIC_URL: 'https://ops.example.com/dash/' }).dashboardPublicUrl).toBe(
      'https://ops.example.com',
    );
  });
});

describe('resolveAuth', () => {
  it('refuses to start without users unless authentication is disabled, before opening Redis', async () => {
    const port = await freePort();
    const { logger } = captureLogger();
    const config = load({ REDIS_URL: `redis://127.0.0.1:${port}`, LOG_LEVEL: 'silent' });
    await expect(buildDashboard({ config, logger })).rejects.toThrow(ConfigError);
    await expect(buildDashboard({ config, logger })).rejects.toThrow(
      /no dashboard users configured; set DASHBOARD_USERS or DASHBOARD_USERS_FILE.*or DASHBOARD_AUTH=disabled/,
    );
  });

  it('refuses two user sources', async () => {
    const json = await usersJson();
    const dir = mkdtempSync(join(tmpdir(), 'dashboard-users-'));
    try {
      writeFileSync(join(dir, 'u.json'), json);
      const config = load({ DASHBOARD_USERS: json, DASHBOARD_USERS_FILE: join(dir, 'u.json') });
      await expect(resolveAuth(config, captureLogger().logger)).rejects.toThrow(/both are set/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('accepts a plain password only with a warning that names the user, not the password', async () => {
    const { logger, lines } = captureLogger();
    const config = load({
      DASHBOARD_USERS: JSON.stringify([{ username: 'dev', password: 'dev-pass', role: 'admin' }]),
    });
    const auth = await resolveAuth(config, logger);
    expect(auth.enabled).toBe(true);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 40, username: 'dev' });
    expect(lines[0]?.msg).toContain('plain-text password');
    expect(JSON.stringify(lines)).not.toContain('dev-pass');
    if (auth.enabled) {
      expect(await auth.users.authenticate('dev', 'dev-pass')).toMatchObject({
        username: 'dev',
        role: 'admin',
      });
      expect(await auth.users.authenticate('DEV', 'dev-pass')).toMatchObject({ username: 'dev' });
      expect(await auth.users.authenticate('dev', PASSWORDS.ops)).toBeUndefined();
    }
  });

  it('warns loudly when authentication is disabled', async () => {
    const { logger, lines } = captureLogger();
    const auth = await resolveAuth(load({ DASHBOARD_AUTH: 'disabled' }), logger);
    expect(auth.enabled).toBe(false);
    expect(lines[0]?.msg).toMatch(/AUTHENTICATION IS OFF.*Never do this outside local development/);
  });
});
