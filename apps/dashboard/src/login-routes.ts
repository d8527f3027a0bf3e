import type { FastifyInstance } from 'fastify';
import type { AuthMode } from './auth-mode.js';
import type { LoginThrottle } from './login-throttle.js';
import type { DashboardMetrics } from './metrics.js';
import { loginPage, logoutPage, safeNext } from './pages.js';
import { LOGIN_PATH, LOGOUT_PATH } from './paths.js';
import type { Sessions } from './session.js';

export interface LoginRouteOptions {
  auth: AuthMode;
  sessions: Sessions;
  throttle: LoginThrottle;
  metrics: DashboardMetrics;
}

const field = (body: unknown, name: string): string | undefined => {
  const value = (body as Record<string, unknown> | null | undefined)?.[name];
  return typeof value === 'string' ? value : undefined;
};

/** `GET/POST /login` (form, throttled) and `GET/POST /logout` (confirm, then end the session). */
export async function loginRoutes(app: FastifyInstance, options: LoginRouteOptions): Promise<void> {
  const { auth, sessions, throttle, metrics } = options;
  const html = 'text/html; charset=utf-8';

  app.get(LOGIN_PATH, { config: { public: true } }, async (request, reply) => {
    const next = safeNext((request.query as Record<string, unknown>).next);
    if (request.principal) return reply.redirect(next, 303);
    return reply.type(html).header('cache-control', 'no-store').send(loginPage({ next }));
  });

  app.post(LOGIN_PATH, { config: { public: true } }, async (request, reply) => {
    const next = safeNext(field(request.body, 'next'));
    if (!auth.enabled) return reply.redirect(next, 303);
    const username = (field(request.body, 'username') ?? '').trim().slice(0, 200);
    const password = field(request.body, 'password') ?? '';
    reply.type(html).header('cache-control', 'no-store');

    const waitMs = throttle.retryAfterMs(request.ip, username);
    if (waitMs > 0) {
      metrics.logins.inc({ outcome: 'throttled' });
      request.log.warn({ ip: request.ip }, 'login refused: too many failed attempts');
      const minutes = Math.ceil(waitMs / 60_000);
      return reply
        .code(429)
        .header('retry-after', String(Math.ceil(waitMs / 1_000)))
        .send(
          loginPage({
            next,
            username,
            error: `Too many failed logins. Try again in ${minutes} minute${minutes === 1 ? '' : 's'}.`,
          }),
        );
    }

    const user = username && password ? await auth.users.authenticate(username, password) : undefined;
    if (!user) {
      throttle.recordFailure(request.ip, username);
      metrics.logins.inc({ outcome: 'failure' });
      // The name only when it is a real user: people type passwords into the name field.
      request.log.warn(
        { ip: request.ip, username: auth.users.find(username)?.username },
        'login failed: wrong username or password',
      );
      return reply.code(401).send(loginPage({ next, username, error: 'Wrong username or password.' }));
    }

    throttle.recordSuccess(request.ip, username);
    metrics.logins.inc({ outcome: 'success' });
    sessions.begin(request.session, user.username);
    request.log.info({ username: user.username, role: user.role }, 'logged in');
    return reply.redirect(next, 303);
  });

  app.get(LOGOUT_PATH, { config: { anyRole: true } }, async (request, reply) => {
    if (!auth.enabled || !request.principal) return reply.redirect('/', 303);
    return reply.type(html).header('cache-control', 'no-store').send(logoutPage(request.principal));
  });

  app.post(LOGOUT_PATH, { config: { anyRole: true } }, async (request, reply) => {
    if (request.principal && auth.enabled) {
      request.log.info({ username: request.principal.username }, 'logged out');
      sessions.end(request.session);
    }
    return reply.redirect(LOGIN_PATH, 303);
  });
}
