import type { FastifyInstance } from 'fastify';
import { InvalidUnicodeError, InvalidUtf8Error, UnsupportedCharsetError } from './errors.js';

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

/**
 * Whether a parsed JSON value holds a string with a lone UTF-16 surrogate (an
 * escape such as `"\ud800"` with no partner): valid JSON, but no text, and not
 * encodable as UTF-8 for a mail or a file. Walks with an explicit stack, since
 * a hostile body may nest deeper than the call stack.
 */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

export function hasLoneSurrogate(value: unknown): boolean {
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const item = stack.pop();
    if (typeof item === 'string') {
      if (LONE_SURROGATE.test(item)) return true;
    } else if (item !== null && typeof item === 'object') {
      for (const [key, child] of Object.entries(item)) {
        if (LONE_SURROGATE.test(key)) return true;
        stack.push(child);
      }
    }
  }
  return false;
}

/**
 * Accept JSON and nothing else: `application/json` bodies must be valid UTF-8
 * (rejected with 400, never repaired with U+FFFD as a plain string decode
 * would) and may not smuggle lone surrogates in `\u` escapes; they are parsed
 * with Fastify's prototype-poisoning checks. Every other content type,
 * `text/plain` included, answers 415.
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
    parseJson(request, text, (error, body) => {
      // Only a body with an escape can hold a lone surrogate: the common case costs one scan for "\u".
      if (!error && text.includes('\\u') && hasLoneSurrogate(body)) {
        done(new InvalidUnicodeError(), undefined);
        return;
      }
      done(error, body);
    });
  });
}
