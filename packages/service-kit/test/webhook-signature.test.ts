import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import {
  generateWebhookSecret,
  parseWebhookSecret,
  signWebhook,
  verifyWebhook,
  WEBHOOK_SECRET_PREFIX,
} from '../src/index.js';

// The `standardwebhooks` package is the specification's reference implementation: an independent check.
const secret = generateWebhookSecret();
const body = JSON.stringify({ id: '42', queue: 'emails', name: 'welcome', data: { é: '✓' }, attempt: 1 });

describe('signWebhook', () => {
  it('signs so that the reference implementation verifies it', () => {
    const headers = signWebhook({ id: 'emails:42', body }, secret);
    expect(headers['webhook-id']).toBe('emails:42');
    expect(headers['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/]+=*$/);
    expect(new Webhook(secret).verify(body, { ...headers })).toEqual(JSON.parse(body));
  });

  it("produces the reference implementation's signature for the same id, time and body", () => {
    const timestamp = new Date('2026-01-02T03:04:05Z');
    const headers = signWebhook({ id: 'msg_1', body, timestamp }, secret);
    expect(headers['webhook-timestamp']).toBe(String(timestamp.getTime() / 1000));
    expect(headers['webhook-signature']).toBe(new Webhook(secret).sign('msg_1', timestamp, body));
  });

  it('is refused by the reference implementation for another secret or another body', () => {
    const headers = signWebhook({ id: 'emails:42', body }, secret);
    expect(() => new Webhook(generateWebhookSecret()).verify(body, { ...headers })).toThrow();
    expect(() => new Webhook(secret).verify(`${body} `, { ...headers })).toThrow();
  });

  it('signs with every secret of a rotation; each one verifies', () => {
    const next = generateWebhookSecret();
    const headers = signWebhook({ id: 'x', body }, [secret, next]);
    expect(headers['webhook-signature'].split(' ')).toHaveLength(2);
    expect(() => new Webhook(secret).verify(body, { ...headers })).not.toThrow();
    expect(() => new Webhook(next).verify(body, { ...headers })).not.toThrow();
  });

  it('refuses an id that cannot be one header line', () => {
    expect(() => signWebhook({ id: 'a b', body }, secret)).toThrow(/printable/);
    expect(() => signWebhook({ id: 'a\r\nb', body }, secret)).toThrow(/printable/);
  });
});

describe('verifyWebhook', () => {
  it("accepts the reference implementation's signature and refuses tampering and old messages", () => {
    const timestamp = new Date();
    const headers = {
      'webhook-id': 'msg_2',
      'webhook-timestamp': String(Math.floor(timestamp.getTime() / 1000)),
      'webhook-signature': new Webhook(secret).sign('msg_2', timestamp, body),
    };
    expect(verifyWebhook(headers, body, secret)).toBe(true);
    expect(verifyWebhook(headers, `${body}x`, secret)).toBe(false);
    expect(verifyWebhook({ ...headers, 'webhook-id': 'msg_3' }, body, secret)).toBe(false);
    expect(verifyWebhook(headers, body, generateWebhookSecret())).toBe(false);
    const later = new Date(timestamp.getTime() + 301_000);
    expect(verifyWebhook(headers, body, secret, { now: later })).toBe(false);
    expect(verifyWebhook({ 'webhook-id': 'msg_2' }, body, secret)).toBe(false);
  });
});

describe('parseWebhookSecret', () => {
  it('accepts whsec_ and base64 of 24 to 64 bytes, trimmed', () => {
    const key = Buffer.alloc(24, 7).toString('base64');
    expect(parseWebhookSecret(` ${WEBHOOK_SECRET_PREFIX}${key}\n`)).toBe(`whsec_${key}`);
    expect(parseWebhookSecret(generateWebhookSecret())).toMatch(/^whsec_/);
  });

  it('refuses other shapes without quoting the secret', () => {
    for (const bad of [
      'hunter2hunter2hunter2hunter2hunter2',
      `whsec_${Buffer.alloc(16).toString('base64')}`,
      `whsec_${Buffer.alloc(65).toString('base64')}`,
      'whsec_not base64 at all, not at all!!',
      `sk_${Buffer.alloc(32).toString('base64')}`,
    ]) {
      expect(() => parseWebhookSecret(bad), bad).toThrow(/^must be whsec_ followed by the base64/);
      try {
        parseWebhookSecret(bad);
      } catch (error) {
        expect((error as Error).message).not.toContain(bad);
      }
    }
  });
});
