import {
  type ConfigOf,
  commonConfig,
  documented,
  type EnvVar,
  env,
  httpEdgeConfig,
  secretSetting,
} from '@jobfleet/service-kit';
import { parseUsers } from './users.js';

/** `DASHBOARD_USERS` (the user list as JSON) and `DASHBOARD_USERS_FILE` (a path to it); errors never echo a secret. */
const users = secretSetting(parseUsers, 'users file');

/** Shortest accepted session secret: 32 characters, as much as the derived key holds when random. */
export const MIN_SESSION_SECRET_LENGTH = 32;

const sessionSecret: EnvVar<string | undefined> = {
  secret: true,
  doc: `Signs and encrypts the session cookie: at least ${MIN_SESSION_SECRET_LENGTH} characters (\`openssl rand -base64 48\`); unset: a random one per start (sessions end at restart), with a warning.`,
  example: '<openssl rand -base64 48>',
  parse(raw) {
    if (raw.length < MIN_SESSION_SECRET_LENGTH) {
      throw new Error(
        `must be at least ${MIN_SESSION_SECRET_LENGTH} characters (e.g. \`openssl rand -base64 48\`)`,
      );
    }
    return raw;
  },
  fallback: () => undefined,
};

/** An optional absolute http(s) URL; only its origin is kept. */
const publicUrl: EnvVar<string | undefined> = {
  doc: 'The origin state-changing requests must come from, when the dashboard sits behind a proxy that changes it.',
  example: 'https://dashboard.example.com',
  parse(raw) {
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      throw new Error('must be an absolute URL such as https://dashboard.example.com');
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('must use http: or https:');
    return url.origin;
  },
  fallback: () => undefined,
};

const HOUR_MS = 3_600_000;

/**
 * The dashboard's environment. The user list is parsed and checked here, at
 * start; that some user (or `DASHBOARD_AUTH=disabled`) is configured is checked
 * by `buildDashboard`, since it spans several variables.
 */
export const dashboardConfig = {
  ...commonConfig,
  PORT: env.integer({
    default: 3001,
    min: 0,
    max: 65_535,
    doc: 'The HTTP port (pages, `/metrics`, `/health/*`).',
  }),
  DASHBOARD_AUTH: env.oneOf(['enabled', 'disabled'], {
    default: 'enabled',
    doc: '`disabled`: no login, everyone is an admin (development only; warned loudly).',
  }),
  DASHBOARD_USERS: documented(users.inline, {
    doc: 'The users, a JSON array (or `DASHBOARD_USERS_FILE`): `{"username", "passwordHash", "role": "viewer" | "admin"}`; hash passwords with `pnpm --filter @jobfleet/dashboard hash-password`.',
    example: '[{"username":"ops","passwordHash":"<scrypt$… from hash-password>","role":"admin"}]',
  }),
  DASHBOARD_USERS_FILE: documented(users.file, {
    doc: 'A file holding the `DASHBOARD_USERS` JSON (a mounted secret), read once at start.',
    example: '/run/secrets/dashboard-users',
  }),
  DASHBOARD_SESSION_SECRET: sessionSecret,
  DASHBOARD_SESSION_TTL_MS: env.duration({
    default: 8 * HOUR_MS,
    min: 60_000,
    max: 30 * 24 * HOUR_MS,
    doc: 'How long a session lasts from login.',
  }),
  DASHBOARD_COOKIE_SECURE: env.oneOf(['auto', 'always', 'never'], {
    default: 'auto',
    doc: "The session cookie's `Secure` flag: `auto` (when the request came over HTTPS), `always` or `never`.",
  }),
  DASHBOARD_PUBLIC_URL: publicUrl,
  DASHBOARD_TRUST_PROXY: env.boolean({
    default: false,
    doc: 'Trust `X-Forwarded-*` headers (client address, scheme) from a reverse proxy.',
  }),
  DASHBOARD_LOGIN_MAX_FAILURES: env.integer({
    default: 5,
    min: 1,
    max: 1_000,
    doc: 'Failed logins per address and username before a lockout (four times as many per address).',
  }),
  DASHBOARD_LOGIN_LOCKOUT_MS: env.duration({
    default: 15 * 60_000,
    min: 1_000,
    max: 24 * HOUR_MS,
    doc: 'How long such a lockout lasts.',
  }),
  ...httpEdgeConfig,
  DASHBOARD_REFRESH_MS: env.duration({
    default: 10_000,
    min: 1_000,
    max: 10 * 60_000,
    doc: 'How often the overview page refreshes itself.',
  }),
};

export type DashboardConfig = ConfigOf<typeof dashboardConfig>;

/** Every key the dashboard reads: what `pnpm docs:config` documents. */
export const configSpec = dashboardConfig;
