import type { FastifyHelmetOptions } from '@fastify/helmet';

/**
 * Helmet's headers with a Content-Security-Policy that the bull-board UI and
 * the overview both work under: scripts only from the dashboard itself (no
 * inline script; the UI's config is a JSON data block, which CSP does not
 * run), inline styles allowed (bull-board's loading screen and React's style
 * attributes use them), no framing, forms posting only here. Nothing is loaded
 * from elsewhere: bull-board's link to Google Fonts is left out of its pages
 * (see `withoutRemoteStyleSheets`), and the UI falls back to system fonts.
 */
export const securityHeaders: FastifyHelmetOptions = {
  global: true,
  contentSecurityPolicy: {
    useDefaults: false,
    directives: {
      defaultSrc: ["'self'"],
      baseUri: ["'self'"],
      scriptSrc: ["'self'"],
      styleSrc: ["'self'", "'unsafe-inline'"],
      imgSrc: ["'self'", 'data:'],
      fontSrc: ["'self'", 'data:'],
      connectSrc: ["'self'"],
      workerSrc: ["'self'", 'blob:'],
      objectSrc: ["'none'"],
      frameAncestors: ["'none'"],
      formAction: ["'self'"],
    },
  },
  // The dashboard may be served over plain HTTP on a private network; HSTS there would only confuse.
  strictTransportSecurity: false,
  referrerPolicy: { policy: 'same-origin' },
  crossOriginEmbedderPolicy: false,
};
