import { hkdfSync, randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import fastifyCookie from '@fastify/cookie';
import fastifySecureSession, { type Session } from '@fastify/secure-session';
import type { Logger } from '@jobfleet/service-kit';
import type { FastifyInstance } from 'fastify';
import { ANONYMOUS_ADMIN, type AuthMode, type Principal } from './auth-mode.js';
import type { DashboardConfig } from './config.js';

declare module '@fastify/secure-session' {
  interface SessionData {
    /** The username the session belongs to; the role is looked up on every request. */
    user: string;
    /** A random id, so a logout can revoke this session. */
    sid: string;
  }
}

/** The session cookie's name. */
export const SESSION_COOKIE = 'jobfleet_session';

/**
 * `DASHBOARD_SESSION_SECRET`, or a random one (with a warning: sessions then
 * end when the process restarts, and replicas do not share them).
 */
export function resolveSessionSecret(
  config: Pick<DashboardConfig, 'dashboardSessionSecret'>,
  logger: Logger,
): string {
  if (config.dashboardSessionSecret) return config.dashboardSessionSecret;
  logger.warn(
    'DASHBOARD_SESSION_SECRET is not set: using a random secret, so every login ends when the dashboard restarts (and replicas do not share sessions); set it to at least 32 random characters',
  );
  return randomBytes(48).toString('base64');
}

/**
 * The 32-byte session key. The secret is already high-entropy (at least 32
 * characters), so HKDF suffices; a slow password hash would only slow start-up.
 */
export function deriveSessionKey(secret: string): Buffer {
  return Buffer.from(hkdfSync('sha256', secret, 'jobfleet-dashboard', 'secure-session key v1', 32));
}

export interface SessionOptions {
  secret: string;
  ttlMs: number;
  cookieSecure: DashboardConfig['dashboardCookieSecure'];
}

/**
 * Cookie sessions: the cookie holds the session itself, encrypted and
 * authenticated (libsodium secretbox) by `@fastify/secure-session`, so it cannot
 * be read or forged without the secret. HttpOnly, SameSite=Lax, `Path=/`,
 * Secure per `DASHBOARD_COOKIE_SECURE`; it expires `ttlMs` after login.
 */
export async function registerSessions(app: FastifyInstance, options: SessionOptions): Promise<void> {
  const ttlSeconds = Math.max(1, Math.round(options.ttlMs / 1_000));
  await app.register(fastifyCookie);
  await app.register(fastifySecureSession, {
    key: deriveSessionKey(options.secret),
    cookieName: SESSION_COOKIE,
    expiry: ttlSeconds,
    cookie: {
      path: '/',
      httpOnly: true,
      sameSite: 'lax',
      secure: options.cookieSecure === 'auto' ? 'auto' : options.cookieSecure === 'always',
      maxAge: ttlSeconds,
    },
  });
}

/**
 * Turns sessions into principals. A session counts only while its user is
 * still configured (with the role the configuration gives now) and it has not
 * been logged out. Logouts are remembered in memory until the session would
 * have expired anyway.
 */
export class Sessions {
  readonly #auth: AuthMode;
  readonly #ttlMs: number;
  readonly #revoked = new Map<string, number>();
  readonly #now: () => number;

  constructor(auth: AuthMode, ttlMs: number, now: () => number = Date.now) {
    this.#auth = auth;
    this.#ttlMs = ttlMs;
    this.#now = now;
  }

  get authEnabled(): boolean {
    return this.#auth.enabled;
  }

  /** The principal of a decoded session; `undefined` when it is missing, revoked or its user is gone. */
  principalOf(session: Session | null | undefined): Principal | undefined {
    if (!this.#auth.enabled) return ANONYMOUS_ADMIN;
    const username = session?.get('user');
    const sid = session?.get('sid');
    if (typeof username !== 'string' || typeof sid !== 'string') return undefined;
    const revokedUntil = this.#revoked.get(sid);
    if (revokedUntil !== undefined && revokedUntil > this.#now()) return undefined;
    return this.#auth.users.find(username);
  }

  /** The principal behind a raw request's cookie, before Fastify's hooks have run (for routing). */
  principalOfRaw(app: FastifyInstance, request: IncomingMessage): Principal | undefined {
    if (!this.#auth.enabled) return ANONYMOUS_ADMIN;
    const header = request.headers.cookie;
    if (!header) return undefined;
    const cookie = app.parseCookie(header)[SESSION_COOKIE];
    if (!cookie) return undefined;
    return this.principalOf(app.decodeSecureSession(cookie));
  }

  /** Starts a session for `username` on `session`. */
  begin(session: Session, username: string): void {
    session.regenerate();
    session.set('user', username);
    session.set('sid', randomBytes(16).toString('base64url'));
  }

  /** Ends `session`: the cookie is cleared and the session id refused until it would have expired. */
  end(session: Session): void {
    const sid = session.get('sid');
    if (typeof sid === 'string') {
      const now = this.#now();
      for (const [id, until] of this.#revoked) if (until <= now) this.#revoked.delete(id);
      this.#revoked.set(sid, now + this.#ttlMs);
    }
    session.delete();
  }
}
