import type { IncomingMessage, ServerResponse } from 'node:http';
import helmet, { type HelmetOptions } from 'helmet';

/**
 * The headers helmet sets with `options`, computed once. helmet's values are
 * fixed for a given configuration, and `@fastify/helmet` builds a new helmet
 * (parsing its policies again) for every request — a tenth of the enqueue hot
 * path's time — so the gateway runs helmet once, on a stand-in response, and
 * sends what it set.
 */
export function helmetHeaders(options: HelmetOptions): Readonly<Record<string, string>> {
  const headers: Record<string, string> = {};
  const response = {
    setHeader(name: string, value: string | number) {
      headers[name.toLowerCase()] = String(value);
    },
    removeHeader(name: string) {
      delete headers[name.toLowerCase()];
    },
  };
  helmet(options)({} as IncomingMessage, response as unknown as ServerResponse, () => {});
  return Object.freeze(headers);
}

/**
 * The security headers every answer of a JSON API should carry, by OWASP's
 * REST Security Cheat Sheet: HSTS, `nosniff`, no framing (`X-Frame-Options:
 * DENY`, `frame-ancestors`), no caching, and a content security policy under
 * which nothing may load. helmet's other headers guard HTML documents
 * (`Referrer-Policy`, `Cross-Origin-Resource-Policy`, `X-XSS-Protection`,
 * `X-Download-Options`, `X-DNS-Prefetch-Control`,
 * `X-Permitted-Cross-Domain-Policies`, `Origin-Agent-Cluster`,
 * `Cross-Origin-Opener-Policy`) and are left out: an answer here is JSON sent
 * to a bearer of an API key, and every header costs the server and every
 * client on each answer (see the README, Performance).
 */
export const API_SECURITY_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  ...helmetHeaders({
    contentSecurityPolicy: {
      useDefaults: false,
      directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] },
    },
    crossOriginOpenerPolicy: false,
    crossOriginResourcePolicy: false,
    originAgentCluster: false,
    referrerPolicy: false,
    xDnsPrefetchControl: false,
    xDownloadOptions: false,
    xFrameOptions: { action: 'deny' },
    xPermittedCrossDomainPolicies: false,
    xXssProtection: false,
  }),
  // Answers carry job payloads (addresses, names): no cache may keep them.
  'cache-control': 'no-store',
});

/**
 * What the gateway's one HTML page (Swagger UI under `/docs`) adds to
 * {@link API_SECURITY_HEADERS}: the page links out, so it sends no referrer,
 * and its files are for this origin only.
 */
export const HTML_PAGE_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'referrer-policy': 'no-referrer',
  'cross-origin-resource-policy': 'same-origin',
});
