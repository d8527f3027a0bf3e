import type { FastifyReply, FastifyRequest } from 'fastify';
import { sendProblem } from './problem.js';

/** Methods that change nothing; every other method must come from the dashboard's own pages. */
export const SAFE_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS']);

function originOf(value: string): string | undefined {
  try {
    return new URL(value).origin;
  } catch {
    return undefined;
  }
}

/**
 * The origin a request must come from: `DASHBOARD_PUBLIC_URL`'s when set (behind
 * a proxy that rewrites `Host`), else the scheme and `Host` the request arrived with.
 */
export function expectedOrigin(request: FastifyRequest, publicOrigin: string | undefined): string {
  // Through URL, so `Host: example.com:80` gives `http://example.com`, as browsers write origins.
  return publicOrigin ?? originOf(`${request.protocol}://${request.host}`) ?? 'null';
}

/**
 * Whether a state-changing request was sent by the dashboard's own pages.
 * Browsers send `Origin` on every cross-origin request and on same-origin
 * POST/PUT/PATCH/DELETE, and a page cannot forge it; `Referer` is the fallback
 * for the rare browser that omits `Origin`. A request with neither is refused:
 * the UI always sends one, and a script outside a browser has no cookie to abuse
 * unless it was given one. `Sec-Fetch-Site`, where sent, must say same-origin.
 */
export function isSameOrigin(request: FastifyRequest, publicOrigin: string | undefined): boolean {
  const site = request.headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin') return false;
  const wanted = expectedOrigin(request, publicOrigin);
  const origin = request.headers.origin;
  if (origin !== undefined) return originOf(origin) === wanted;
  const referer = request.headers.referer;
  return referer !== undefined && originOf(referer) === wanted;
}

/** `onRequest` hook: refuses a state-changing request that did not come from the dashboard's origin. */
export function csrfGuard(publicOrigin: string | undefined) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    if (SAFE_METHODS.has(request.method) || isSameOrigin(request, publicOrigin)) return;
    request.log.warn(
      {
        origin: request.headers.origin,
        referer: request.headers.referer !== undefined,
        with_cookie: request.headers.cookie !== undefined,
      },
      'refused a cross-origin state-changing request',
    );
    return sendProblem(reply, {
      status: 403,
      slug: 'cross-origin-request',
      title: 'Cross-origin request refused',
      detail: `${request.method} requests must come from the dashboard's own pages (${expectedOrigin(request, publicOrigin)})`,
    });
  };
}
