import {
  createLogger,
  createRedisConnection,
  type Logger,
  loadConfig,
  waitUntilConnected,
} from '@jobfleet/service-kit';
import { logSink } from '@jobfleet/test-utils';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import type { Redis } from 'ioredis';
import { buildDashboard } from '../src/app.js';
import { type DashboardConfig, dashboardConfig } from '../src/config.js';
import { formatPasswordHash, hashPassword } from '../src/password.js';
import { SESSION_COOKIE } from '../src/session.js';

/** The test users' passwords; their hashes are made once per test file. */
export const PASSWORDS = { ops: 'correct horse battery staple', watcher: 'viewer password 2' } as const;

/** A session secret long enough for the config check. */
export const SESSION_SECRET = 'test-session-secret-0123456789abcdefghij';

/** `app.inject()` sends `Host: localhost:80`, so this is the dashboard's own origin in inject tests. */
export const ORIGIN = 'http://localhost';

let users: Promise<string> | undefined;

/** The cheapest parameters the hash format accepts: logins in tests cost half the default's time. */
const TEST_SCRYPT = { cost: 2 ** 14, blockSize: 8, parallelization: 1 };

/** `DASHBOARD_USERS` with an admin `ops` and a viewer `watcher`, hashed in the documented format. */
export function usersJson(): Promise<string> {
  const hash = async (password: string) => formatPasswordHash(await hashPassword(password, TEST_SCRYPT));
  users ??= (async () =>
    JSON.stringify([
      { username: 'ops', passwordHash: await hash(PASSWORDS.ops), role: 'admin' },
      { username: 'watcher', passwordHash: await hash(PASSWORDS.watcher), role: 'viewer' },
    ]))();
  return users;
}

export interface CapturedLogger {
  logger: Logger;
  lines: Array<Record<string, unknown> & { msg?: string; level?: number }>;
}

/** A logger whose JSON lines are kept for assertions. */
export function captureLogger(level: 'warn' | 'info' | 'debug' = 'warn'): CapturedLogger {
  const { destination, lines } = logSink();
  return { logger: createLogger({ service: 'dashboard-test', level, destination }), lines };
}

export async function testConfig(
  redis: { url: string; prefix: string },
  env: Record<string, string> = {},
): Promise<DashboardConfig> {
  return loadConfig(dashboardConfig, {
    REDIS_URL: redis.url,
    JOBFLEET_PREFIX: redis.prefix,
    LOG_LEVEL: 'silent',
    DASHBOARD_USERS: await usersJson(),
    DASHBOARD_SESSION_SECRET: SESSION_SECRET,
    ...env,
  });
}

export interface TestDashboard {
  app: FastifyInstance;
  redis: Redis;
  logs: CapturedLogger['lines'];
}

/**
 * Builds the dashboard on the test's Redis and prefix with its own producer
 * connection; `close()` closes both.
 */
export async function startDashboard(
  redis: { url: string; prefix: string },
  env: Record<string, string> = {},
  options: { now?: () => number } = {},
): Promise<TestDashboard & { close(): Promise<void> }> {
  const config = await testConfig(redis, env);
  const { logger, lines } = captureLogger();
  const connection = createRedisConnection({ url: redis.url, flavour: 'producer', name: 'dashboard-test' });
  await waitUntilConnected(connection);
  const app = await buildDashboard({ config, logger, redis: connection, ...options });
  return {
    app,
    redis: connection,
    logs: lines,
    async close() {
      await app.close();
      await connection.quit().catch(() => connection.disconnect());
    },
  };
}

/** The `Cookie` header value carrying a response's session cookie. */
export function sessionCookie(response: LightMyRequestResponse): string {
  const cookie = response.cookies.find((c) => c.name === SESSION_COOKIE);
  if (!cookie?.value) throw new Error(`no session cookie in the response (status ${response.statusCode})`);
  // light-my-request hands the value back decoded; a browser sends it as it was set.
  return `${SESSION_COOKIE}=${encodeURIComponent(cookie.value)}`;
}

/** Logs in through the form, as a browser on the dashboard's own origin would. */
export function postLogin(
  app: FastifyInstance,
  username: string,
  password: string,
  extra: { next?: string; remoteAddress?: string; origin?: string } = {},
) {
  const form = new URLSearchParams({ username, password, ...(extra.next ? { next: extra.next } : {}) });
  return app.inject({
    method: 'POST',
    url: '/login',
    headers: { 'content-type': 'application/x-www-form-urlencoded', origin: extra.origin ?? ORIGIN },
    payload: form.toString(),
    ...(extra.remoteAddress ? { remoteAddress: extra.remoteAddress } : {}),
  });
}

/** A session cookie for `ops` (admin) or `watcher` (viewer). */
export async function login(
  app: FastifyInstance,
  username: keyof typeof PASSWORDS,
  origin = ORIGIN,
): Promise<string> {
  const response = await postLogin(app, username, PASSWORDS[username], { origin });
  if (response.statusCode !== 303) throw new Error(`login of ${username} answered ${response.statusCode}`);
  return sessionCookie(response);
}

/** Headers of a same-origin request from a logged-in browser. */
export const asUser = (cookie: string, extra: Record<string, string> = {}) => ({
  cookie,
  origin: ORIGIN,
  ...extra,
});
