import type { FastifyInstance } from 'fastify';
import { InvalidUtf8Error, UnsupportedCharsetError } from './errors.js';

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

/**
 * Accept JSON and nothing else: `application/json` bodies must be valid UTF-8
 * (rejected with 400, never repaired with U+FFFD as a plain string decode
 * would) and are parsed with Fastify's prototype-poisoning checks. Every other
 * content type, `text/plain` included, answers 415.
 */
export function acceptOnlyJson(app: FastifyInstance): void {
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => {
    const charset = /;\s*charset\s*=\s*"?([^";\s]+)/i.exec(request.headers['content-type'] ?? '')?.[1];
    if (charset && !/^utf-?8$/i.test(charset)) {
      done(new UnsupportedCharsetError(charset.slice(0, 40)), undefined);
      return;
    }
    let text: string;
    try {
      text = utf8.decode(body as Buffer);
    } catch {
      done(new InvalidUtf8Error(), undefined);
      return;
    }
    parseJson(request, text, done);
  });
}
