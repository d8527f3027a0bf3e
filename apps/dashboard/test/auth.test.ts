import { useTestRedis } from '@jobfleet/test-utils';
import { afterEach, describe, expect, it } from 'vitest';
import { BOARD_PATH } from '../src/paths.js';
import { SESSION_COOKIE } from '../src/session.js';
import { boardRoutes } from './board-routes.js';
import {
  ORIGIN,
  PASSWORDS,
  postLogin,
  SESSION_SECRET,
  sessionCookie,
  startDashboard,
  usersJson,
} from './helpers.js';

const redis = useTestRedis();
const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

async function dashboard(env: Record<string, string> = {}, options: { now?: () => number } = {}) {
  const started = await startDashboard(redis, env, options);
  cleanup.push(() => started.close());
  return started;
}

const isLoginRedirect = (response: { statusCode: number; headers: Record<string, unknown> }) =>
  response.statusCode === 302 && String(response.headers.location).startsWith('/login?next=');

describe('without a session', () => {
  it('answers every bull-board page and API route, in every method, only with the login page or a 401', async () => {
    const { app } = await dashboard();
    const routes = boardRoutes({ queueName: 'emails', jobId: '1' });
    expect(routes.length).toBeGreaterThan(30);
    for (const route of routes) {
      const response = await app.inject({
        method: route.method as 'GET',
        url: route.url,
        headers: { origin: ORIGIN },
        ...(route.method === 'GET' ? {} : { payload: {} }),
      });
      const where = `${route.method} ${route.url}`;
      if (route.method === 'GET' && !route.url.startsWith(`${BOARD_PATH}/api/`)) {
        expect(isLoginRedirect(response), where).toBe(true);
        expect(response.headers.location, where).toBe(`/login?next=${encodeURIComponent(route.url)}`);
      } else {
        expect(response.statusCode, where).toBe(401);
        expect(response.headers['content-type'], where).toMatch(/^application\/problem\+json/);
        expect(response.json(), where).toMatchObject({ status: 401, title: 'Not logged in' });
        expect(response.body, where).not.toContain('emails');
      }
    }
  });

  it('sends the overview, unknown paths and HEAD requests to the login page too', async () => {
    const { app } = await dashboard();
    for (const url of [
      '/',
      '/admin',
      `${BOARD_PATH}/no/such/page`,
      `${BOARD_PATH}/queue/emails?status=failed`,
    ]) {
      const response = await app.inject({ method: 'GET', url });
      expect(isLoginRedirect(response), url).toBe(true);
    }
    const head = await app.inject({ method: 'HEAD', url: BOARD_PATH });
    expect(isLoginRedirect(head)).toBe(true);
    const unknownApi = await app.inject({ method: 'GET', url: `${BOARD_PATH}/api/nothing-here` });
    expect(unknownApi.statusCode).toBe(401);
  });

  it('refuses a forged, tampered or foreign cookie', async () => {
    const { app } = await dashboard();
    const good = sessionCookie(await postLogin(app, 'ops', PASSWORDS.ops));
    const value = good.slice(SESSION_COOKIE.length + 1);
    const tampered = `${value.slice(0, 10)}${value[10] === 'A' ? 'B' : 'A'}${value.slice(11)}`;
    const other = await startDashboard(redis, {
      DASHBOARD_SESSION_SECRET: 'another-secret-0123456789abcdefghijkl',
    });
    cleanup.push(() => other.close());
    const foreign = sessionCookie(await postLogin(other.app, 'ops', PASSWORDS.ops));
    for (const cookie of [`${SESSION_COOKIE}=garbage`, `${SESSION_COOKIE}=${tampered}`, foreign]) {
      const response = await app.inject({
        method: 'GET',
        url: `${BOARD_PATH}/api/queues`,
        headers: { cookie },
      });
      expect(response.statusCode, cookie.slice(0, 40)).toBe(401);
    }
    const ok = await app.inject({
      method: 'GET',
      url: `${BOARD_PATH}/api/queues`,
      headers: { cookie: good },
    });
    expect(ok.statusCode).toBe(200);
  });

  it('leaves the login form, the style sheet and the observability routes public', async () => {
    const { app } = await dashboard();
    for (const url of [
      '/login',
      '/assets/dashboard.css',
      '/assets/overview.js',
      '/health/live',
      '/metrics',
    ]) {
      const response = await app.inject({ method: 'GET', url });
      expect(response.statusCode, url).toBe(200);
    }
  });
});

describe('logging in', () => {
  it('shows a login form that posts to /login and keeps where the browser was going', async () => {
    const { app } = await dashboard();
    const response = await app.inject({
      method: 'GET',
      url: `/login?next=${encodeURIComponent('/admin/queues')}`,
    });
    expect(response.headers['content-type']).toMatch(/^text\/html/);
    expect(response.body).toContain('<form class="card" method="post" action="/login">');
    expect(response.body).toContain('name="next" value="/admin/queues"');
    expect(response.body).toContain('type="password"');
  });

  it('sets a signed HttpOnly SameSite session cookie and redirects to next', async () => {
    const { app } = await dashboard({ DASHBOARD_SESSION_TTL_MS: '3600000' });
    const response = await postLogin(app, 'ops', PASSWORDS.ops, { next: '/admin/queues/queue/emails' });
    expect(response.statusCode).toBe(303);
    expect(response.headers.location).toBe('/admin/queues/queue/emails');
    const cookie = response.cookies.find((c) => c.name === SESSION_COOKIE);
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Lax', path: '/', maxAge: 3_600 });
    // The value is sealed (encrypted and authenticated): it does not even show the username.
    expect(cookie?.value).not.toContain('ops');
    const page = await app.inject({ method: 'GET', url: '/', headers: { cookie: sessionCookie(response) } });
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('Fleet overview');
  });

  it('refuses a wrong password or an unknown user with the form again, and no cookie', async () => {
    const { app, logs } = await dashboard();
    for (const [user, password] of [
      ['ops', 'wrong'],
      ['nobody', PASSWORDS.ops],
      ['watcher', PASSWORDS.ops],
      ['ops', ''],
    ] as const) {
      const response = await postLogin(app, user, password);
      expect(response.statusCode, user).toBe(401);
      expect(response.body).toContain('Wrong username or password.');
      expect(response.cookies.find((c) => c.name === SESSION_COOKIE && c.value)).toBeUndefined();
    }
    // Logged, but never with what was typed as a password.
    expect(logs.filter((l) => l.msg === 'login failed: wrong username or password')).toHaveLength(4);
    expect(JSON.stringify(logs)).not.toContain(PASSWORDS.ops);
  });

  it('never redirects to another site after login', async () => {
    const { app } = await dashboard();
    for (const next of [
      'https://evil.example/',
      '//evil.example/',
      '/\\evil.example',
      '/\t/evil.example',
      'javascript:alert(1)',
    ]) {
      const response = await postLogin(app, 'ops', PASSWORDS.ops, { next });
      expect(response.headers.location, next).toBe('/');
    }
  });

  it('logs out with a POST from the confirmation page; the old cookie no longer works', async () => {
    const { app } = await dashboard();
    const cookie = sessionCookie(await postLogin(app, 'ops', PASSWORDS.ops));
    const confirm = await app.inject({ method: 'GET', url: '/logout', headers: { cookie } });
    expect(confirm.body).toContain('<form class="card" method="post" action="/logout">');
    const out = await app.inject({ method: 'POST', url: '/logout', headers: { cookie, origin: ORIGIN } });
    expect(out.statusCode).toBe(303);
    expect(out.headers.location).toBe('/login');
    expect(out.cookies.find((c) => c.name === SESSION_COOKIE)).toMatchObject({ value: '', maxAge: 0 });
    // A copy of the cookie kept by someone else is refused too.
    const replay = await app.inject({ method: 'GET', url: `${BOARD_PATH}/api/queues`, headers: { cookie } });
    expect(replay.statusCode).toBe(401);
  });

  it('ends sessions of users no longer configured, and uses the role configured now', async () => {
    const first = await dashboard();
    const cookie = sessionCookie(await postLogin(first.app, 'watcher', PASSWORDS.watcher));
    const users = JSON.parse(await usersJson()) as Array<{ username: string; role: string }>;
    const promoted = await dashboard({
      DASHBOARD_USERS: JSON.stringify(users.map((u) => ({ ...u, role: 'admin' }))),
    });
    const pause = await promoted.app.inject({
      method: 'PUT',
      url: `${BOARD_PATH}/api/queues/emails/pause`,
      headers: { cookie, origin: ORIGIN },
    });
    expect(pause.statusCode).toBe(200);
    const removed = await dashboard({
      DASHBOARD_USERS: JSON.stringify(users.filter((u) => u.username === 'ops')),
    });
    const refused = await removed.app.inject({ method: 'GET', url: '/', headers: { cookie } });
    expect(refused.statusCode).toBe(302);
  });

  it('ends a session when it expires', async () => {
    const { app } = await dashboard({ DASHBOARD_SESSION_TTL_MS: '60000' });
    // A session sealed with the right key whose timestamp is 61 s old.
    const stale = app.createSecureSession({
      user: 'ops',
      sid: 'old',
      __ts: Math.round(Date.now() / 1_000) - 61,
    });
    const cookie = `${SESSION_COOKIE}=${encodeURIComponent(app.encodeSecureSession(stale))}`;
    const response = await app.inject({
      method: 'GET',
      url: `${BOARD_PATH}/api/queues`,
      headers: { cookie },
    });
    expect(response.statusCode).toBe(401);
    const fresh = app.createSecureSession({ user: 'ops', sid: 'new' });
    const ok = await app.inject({
      method: 'GET',
      url: `${BOARD_PATH}/api/queues`,
      headers: { cookie: `${SESSION_COOKIE}=${encodeURIComponent(app.encodeSecureSession(fresh))}` },
    });
    expect(ok.statusCode).toBe(200);
  });
});

describe('failed-login throttling', () => {
  it('refuses even the right password after too many failures, per address, until the lockout ends', async () => {
    let now = Date.now();
    const { app } = await dashboard(
      { DASHBOARD_LOGIN_MAX_FAILURES: '3', DASHBOARD_LOGIN_LOCKOUT_MS: '600000' },
      { now: () => now },
    );
    const attacker = '203.0.113.7';
    for (let i = 0; i < 3; i += 1) {
      expect((await postLogin(app, 'ops', 'guess', { remoteAddress: attacker })).statusCode).toBe(401);
    }
    const locked = await postLogin(app, 'ops', PASSWORDS.ops, { remoteAddress: attacker });
    expect(locked.statusCode).toBe(429);
    expect(Number(locked.headers['retry-after'])).toBe(600);
    expect(locked.body).toContain('Too many failed logins. Try again in 10 minutes.');
    expect(locked.cookies.find((c) => c.name === SESSION_COOKIE && c.value)).toBeUndefined();
    // The real user, from their own address, is not locked out by the stranger.
    expect((await postLogin(app, 'ops', PASSWORDS.ops, { remoteAddress: '198.51.100.2' })).statusCode).toBe(
      303,
    );
    now += 600_001;
    expect((await postLogin(app, 'ops', PASSWORDS.ops, { remoteAddress: attacker })).statusCode).toBe(303);
  });

  it('counts throttled, failed and successful logins in /metrics', async () => {
    const { app } = await dashboard({ DASHBOARD_LOGIN_MAX_FAILURES: '1' });
    await postLogin(app, 'ops', 'nope');
    await postLogin(app, 'ops', 'nope');
    await postLogin(app, 'watcher', PASSWORDS.watcher, { remoteAddress: '192.0.2.9' });
    const text = (await app.inject({ method: 'GET', url: '/metrics' })).body;
    expect(text).toContain('jobfleet_dashboard_logins_total{outcome="failure"} 1');
    expect(text).toContain('jobfleet_dashboard_logins_total{outcome="throttled"} 1');
    expect(text).toContain('jobfleet_dashboard_logins_total{outcome="success"} 1');
  });
});

describe('DASHBOARD_AUTH=disabled', () => {
  it('lets everyone in as an admin, warns loudly, and still refuses cross-origin changes', async () => {
    const { app, logs } = await dashboard({ DASHBOARD_AUTH: 'disabled', DASHBOARD_USERS: '' });
    expect(logs.some((l) => l.level === 40 && String(l.msg).includes('AUTHENTICATION IS OFF'))).toBe(true);
    const page = await app.inject({ method: 'GET', url: '/' });
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('Authentication is disabled');
    const pause = await app.inject({
      method: 'PUT',
      url: `${BOARD_PATH}/api/queues/emails/pause`,
      headers: { origin: ORIGIN },
    });
    expect(pause.statusCode).toBe(200);
    const forged = await app.inject({
      method: 'PUT',
      url: `${BOARD_PATH}/api/queues/emails/resume`,
      headers: { origin: 'https://evil.example' },
    });
    expect(forged.statusCode).toBe(403);
  });
});

it('keeps the session secret out of every response and log line', async () => {
  const { app, logs } = await dashboard();
  const cookie = sessionCookie(await postLogin(app, 'ops', PASSWORDS.ops));
  const bodies = await Promise.all(
    ['/', '/metrics', '/health/ready', BOARD_PATH].map(
      async (url) => (await app.inject({ url, headers: { cookie } })).body,
    ),
  );
  expect(bodies.join('\n')).not.toContain(SESSION_SECRET);
  expect(JSON.stringify(logs)).not.toContain(SESSION_SECRET);
});
