import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Signing per the Standard Webhooks specification
 * (https://www.standardwebhooks.com): the receiver checks `webhook-signature`,
 * an HMAC-SHA256 of `<webhook-id>.<webhook-timestamp>.<body>` keyed with the
 * shared secret. Completion webhooks and HTTP push workers sign alike, so a
 * receiver verifies both with any Standard Webhooks library.
 */

/** The prefix of a Standard Webhooks secret: `whsec_` and the base64 of the key. */
export const WEBHOOK_SECRET_PREFIX = 'whsec_';

/** Key sizes the specification asks for (24 to 64 bytes). */
const MIN_KEY_BYTES = 24;
const MAX_KEY_BYTES = 64;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/** The three headers of a signed message. */
export interface WebhookHeaders {
  'webhook-id': string;
  'webhook-timestamp': string;
  'webhook-signature': string;
}

/**
 * Checks a `whsec_<base64>` secret (surrounding white space ignored: secret
 * files end in a newline) and returns it trimmed. Its message never quotes the
 * secret.
 */
export function parseWebhookSecret(text: string): string {
  const secret = text.trim();
  const encoded = secret.startsWith(WEBHOOK_SECRET_PREFIX) ? secret.slice(WEBHOOK_SECRET_PREFIX.length) : '';
  const bytes = BASE64.test(encoded) && encoded.length % 4 === 0 ? Buffer.from(encoded, 'base64').length : 0;
  if (bytes < MIN_KEY_BYTES || bytes > MAX_KEY_BYTES) {
    throw new Error(
      `must be ${WEBHOOK_SECRET_PREFIX} followed by the base64 of ${MIN_KEY_BYTES} to ${MAX_KEY_BYTES} random bytes`,
    );
  }
  return secret;
}

/** A new random secret (32 bytes), e.g. for a new API key's `webhookSecret`. */
export function generateWebhookSecret(): string {
  return `${WEBHOOK_SECRET_PREFIX}${randomBytes(32).toString('base64')}`;
}

const keyOf = (secret: string): Buffer =>
  Buffer.from(parseWebhookSecret(secret).slice(WEBHOOK_SECRET_PREFIX.length), 'base64');

const signature = (key: Buffer, id: string, timestamp: string, body: string): string =>
  createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest('base64');

/** One message to sign; `body` is the exact text sent. */
export interface WebhookMessage {
  /** Unique per message and the same on each retry of it, so receivers can drop duplicates. */
  readonly id: string;
  readonly body: string;
  /** When it is sent; default now. */
  readonly timestamp?: Date;
}

/**
 * The headers that sign `message`. With several secrets (a rotation in
 * progress) the signature header carries one `v1,` signature per secret,
 * space-separated, and a receiver accepts any of them.
 */
export function signWebhook(message: WebhookMessage, secrets: string | readonly string[]): WebhookHeaders {
  const id = message.id;
  // It goes out as a header line, unencoded.
  if (!/^[\x21-\x7e]+$/.test(id)) throw new Error('a webhook id must be printable ASCII without spaces');
  const timestamp = String(Math.floor((message.timestamp ?? new Date()).getTime() / 1000));
  const list = typeof secrets === 'string' ? [secrets] : secrets;
  if (list.length === 0) throw new Error('signing needs at least one secret');
  return {
    'webhook-id': id,
    'webhook-timestamp': timestamp,
    'webhook-signature': list
      .map((secret) => `v1,${signature(keyOf(secret), id, timestamp, message.body)}`)
      .join(' '),
  };
}

/** Options of {@link verifyWebhook}. */
export interface VerifyWebhookOptions {
  /** Accepted distance of `webhook-timestamp` from now, in seconds; default 300 (the specification's). */
  readonly toleranceSeconds?: number;
  readonly now?: Date;
}

/**
 * Whether `headers` sign `body` with `secret` and a timestamp within the
 * tolerance (a replayed old message fails). Header names are matched in lower
 * case, as Node gives them.
 */
export function verifyWebhook(
  headers: Readonly<Record<string, string | string[] | undefined>>,
  body: string,
  secret: string,
  options: VerifyWebhookOptions = {},
): boolean {
  const id = headers['webhook-id'];
  const timestamp = headers['webhook-timestamp'];
  const signatures = headers['webhook-signature'];
  if (typeof id !== 'string' || typeof timestamp !== 'string' || typeof signatures !== 'string') return false;
  if (!/^\d{1,15}$/.test(timestamp)) return false;
  const now = Math.floor((options.now ?? new Date()).getTime() / 1000);
  if (Math.abs(now - Number(timestamp)) > (options.toleranceSeconds ?? 300)) return false;
  const expected = Buffer.from(signature(keyOf(secret), id, timestamp, body));
  return signatures.split(' ').some((entry) => {
    if (!entry.startsWith('v1,')) return false;
    const given = Buffer.from(entry.slice(3));
    return given.length === expected.length && timingSafeEqual(given, expected);
  });
}
