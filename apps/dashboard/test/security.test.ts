import { emails } from '@jobfleet/queue-contracts';
import { useTestRedis } from '@jobfleet/test-utils';
import { Queue } from 'bullmq';
import { afterEach, describe, expect, it } from 'vitest';
import { BOARD_PATH } from '../src/paths.js';
import { SESSION_COOKIE } from '../src/session.js';
import { login, ORIGIN, PASSWORDS, postLogin, startDashboard } from './helpers.js';

const redis = useTestRedis();
const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

async function setup(env: Record<string, string> = {}, origin = ORIGIN) {
  const dashboard = await startDashboard(redis, env);
  cleanup.push(() => dashboard.close());
  const queue = new Queue(emails.name, { connection: { url: redis.url }, prefix: redis.prefix });
  cleanup.push(() => queue.close());
  return { ...dashboard, queue, admin: await login(dashboard.app, 'ops', origin) };
}

const pause = (app: Awaited<ReturnType<typeof setup>>['app'], headers: Record<string, string>) =>
  app.inject({ method: 'PUT', url: `${BOARD_PATH}/api/queues/emails/pause`, headers });

describe('cross-site request forgery', () => {
  it("refuses an admin's cookie on a POST/PUT from another origin, or with no origin at all", async () => {
    const { app, admin, queue } = await setup();
    const forged: Array<Record<string, string>> = [
      { origin: 'https://evil.example' },
      { origin: 'http://localhost:8080' },
      { origin: 'https://localhost' },
      { origin: 'null' },
      { referer: 'https://evil.example/page' },
      {},
      { origin: ORIGIN, 'sec-fetch-site': 'cross-site' },
      { origin: ORIGIN, 'sec-fetch-site': 'same-site' },
    ];
    for (const headers of forged) {
      const response = await pause(app, { cookie: admin, ...headers });
      expect(response.statusCode, JSON.stringify(headers)).toBe(403);
      expect(response.json(), JSON.stringify(headers)).toMatchObject({
        title: 'Cross-origin request refused',
      });
    }
    const add = await app.inject({
      method: 'POST',
      url: `${BOARD_PATH}/api/queues/emails/add`,
      headers: { cookie: admin, origin: 'https://evil.example' },
      payload: { name: 'welcome', data: { userId: 1, to: 'a@example.com' }, options: {} },
    });
    expect(add.statusCode).toBe(403);
    expect(await queue.isPaused()).toBe(false);
    expect(await queue.count()).toBe(0);
  });

  it('accepts the same request from the dashboard itself (Origin, or Referer without Origin)', async () => {
    const { app, admin, queue } = await setup();
    expect(
      (await pause(app, { cookie: admin, origin: ORIGIN, 'sec-fetch-site': 'same-origin' })).statusCode,
    ).toBe(200);
    expect(await queue.isPaused()).toBe(true);
    const resume = await app.inject({
      method: 'PUT',
      url: `${BOARD_PATH}/api/queues/emails/resume`,
      headers: { cookie: admin, referer: `${ORIGIN}${BOARD_PATH}/queue/emails` },
    });
    expect(resume.statusCode).toBe(200);
    expect(await queue.isPaused()).toBe(false);
  });

  it('compares with DASHBOARD_PUBLIC_URL when the dashboard sits behind a proxy', async () => {
    const { app, admin } = await setup(
      { DASHBOARD_PUBLIC_URL: 'https://dashboard.example.com/' },
      'https://dashboard.example.com',
    );
    expect((await pause(app, { cookie: admin, origin: 'https://dashboard.example.com' })).statusCode).toBe(
      200,
    );
    expect((await pause(app, { cookie: admin, origin: ORIGIN })).statusCode).toBe(403);
  });

  it('refuses a login posted from another site (login CSRF), and a logout too', async () => {
    const { app, admin } = await setup();
    const response = await postLogin(app, 'ops', PASSWORDS.ops, { origin: 'https://evil.example' });
    expect(response.statusCode).toBe(403);
    expect(response.cookies.find((c) => c.name === SESSION_COOKIE)).toBeUndefined();
    const logout = await app.inject({
      method: 'POST',
      url: '/logout',
      headers: { cookie: admin, origin: 'https://evil.example' },
    });
    expect(logout.statusCode).toBe(403);
    expect((await app.inject({ url: '/', headers: { cookie: admin } })).statusCode).toBe(200);
  });
});

describe('security headers', () => {
  it('sends a strict CSP and the usual hardening headers on every page', async () => {
    const { app, admin } = await setup();
    for (const url of ['/login', '/', BOARD_PATH, `${BOARD_PATH}/api/queues`]) {
      const { headers } = await app.inject({ url, headers: { cookie: admin } });
      const csp = String(headers['content-security-policy']);
      expect(csp, url).toContain("script-src 'self'");
      expect(csp, url).toContain("frame-ancestors 'none'");
      expect(csp, url).toContain("object-src 'none'");
      expect(csp, url).toContain("form-action 'self'");
      expect(csp, url).not.toContain('unsafe-eval');
      expect(headers['x-content-type-options'], url).toBe('nosniff');
      expect(headers['x-frame-options'], url).toBe('SAMEORIGIN');
      expect(headers['referrer-policy'], url).toBe('same-origin');
      expect(headers['cross-origin-opener-policy'], url).toBe('same-origin');
    }
  });

  it("keeps bull-board's page working under that CSP: every script is a file from the dashboard", async () => {
    const { app, admin } = await setup();
    const page = (await app.inject({ url: BOARD_PATH, headers: { cookie: admin } })).body;
    const scripts = [...page.matchAll(/<script\b([^>]*)>/g)].map((m) => m[1] ?? '');
    expect(scripts.length).toBeGreaterThan(1);
    for (const attributes of scripts) {
      // A JSON data block is not run, so CSP does not apply to it; anything else must be a same-origin file.
      expect(attributes, attributes).toMatch(/type="application\/json"|src="static\/js\//);
    }
    expect(page).toContain(`<base href="${BOARD_PATH}/" />`);
    const asset = await app.inject({
      url: `${BOARD_PATH}/static/favicon-32x32.png`,
      headers: { cookie: admin },
    });
    expect(asset.statusCode).toBe(200);
  });
});
