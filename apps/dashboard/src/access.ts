import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Principal } from './auth-mode.js';
import { SAFE_METHODS } from './csrf.js';
import { BOARD_API_PATH, LOGIN_PATH } from './paths.js';
import { sendProblem } from './problem.js';
import type { Sessions } from './session.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Who is asking; `null` on public routes when nobody is logged in. */
    principal: Principal | null;
  }
  interface FastifyContextConfig {
    /** Answers without a login (the login form, static assets). */
    public?: boolean;
    /** Any logged-in user may send state-changing requests here (log out), not only admins. */
    anyRole?: boolean;
  }
}

/** service-kit's observability routes, which answer without a login (Prometheus and probes). */
const OBSERVABILITY_ROUTES: ReadonlySet<string> = new Set(['/metrics', '/health/live', '/health/ready']);

const isPublic = (request: FastifyRequest) =>
  request.routeOptions.config?.public === true || OBSERVABILITY_ROUTES.has(request.routeOptions.url ?? '');

/** Where a request without a session goes: pages to the login form, API calls get a 401. */
function wantsPage(request: FastifyRequest): boolean {
  return (request.method === 'GET' || request.method === 'HEAD') && !request.url.startsWith(BOARD_API_PATH);
}

/**
 * `onRequest` hook: every route but the public ones needs a session (requests
 * that match no route too, so probing reveals nothing). Pages redirect to the
 * login form, remembering where the browser was going; anything else is 401.
 */
export function authenticationGuard(sessions: Sessions) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    request.principal = sessions.principalOf(request.session) ?? null;
    if (request.principal || isPublic(request)) return;
    if (wantsPage(request)) {
      return reply.redirect(`${LOGIN_PATH}?next=${encodeURIComponent(request.url)}`, 302);
    }
    reply.header('www-authenticate', `Cookie realm="jobfleet dashboard", form-action="${LOGIN_PATH}"`);
    return sendProblem(reply, {
      status: 401,
      slug: 'unauthorized',
      title: 'Not logged in',
      detail: `log in at ${LOGIN_PATH} first`,
    });
  };
}

/**
 * `onRequest` hook: only admins may send state-changing requests (every
 * bull-board action: retry, promote, clean, pause, add, …), whatever the UI
 * shows; the login form and the logout are the exceptions.
 */
export function roleGuard() {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    if (SAFE_METHODS.has(request.method) || isPublic(request)) return;
    if (request.routeOptions.config?.anyRole === true || request.principal?.role === 'admin') return;
    request.log.warn(
      { username: request.principal?.username, method: request.method, route: request.routeOptions.url },
      'refused a state-changing request from a viewer',
    );
    return sendProblem(reply, {
      status: 403,
      slug: 'forbidden',
      title: 'Read-only access',
      detail: `user "${request.principal?.username ?? ''}" is a viewer: viewers can look but not change anything`,
    });
  };
}
