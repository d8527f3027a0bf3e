import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { ConfigError } from '@jobfleet/service-kit';
import { describe, expect, it } from 'vitest';
import { parseMailbox } from '../src/mailbox.js';
import { rateLimiter } from '../src/rate-limit.js';
import { describeSmtpEndpoint, parseSmtpUrl } from '../src/smtp-endpoint.js';
import { worker } from '../src/worker.js';
import { TEST_CERT, TEST_CERT_FILE } from './test-smtp-server.js';

describe('email worker config', () => {
  it('has working defaults: port 9101, concurrency 8 per pooled connection, outbox under the working directory', () => {
    const config = worker.loadConfig({});
    expect(worker.concurrency(config).emails).toBe(40);
    expect(config).toMatchObject({
      metricsPort: 9101,
      workerConcurrency: undefined,
      emailOutboxDir: resolve(process.cwd(), '.data/outbox'),
      emailFrom: { name: 'jobfleet', address: 'no-reply@jobfleet.local' },
      emailSendDelayMs: 0,
      appName: 'jobfleet',
      appUrl: undefined,
      emailRateLimit: undefined,
      smtpUrl: undefined,
      smtpStarttls: 'auto',
      smtpTlsRejectUnauthorized: true,
      smtpTlsCaFile: undefined,
      smtpEhloName: undefined,
      smtpMaxConnections: 5,
      smtpMaxMessages: 100,
      smtpConnectionTimeoutMs: 10_000,
      smtpGreetingTimeoutMs: 10_000,
      smtpSocketTimeoutMs: 60_000,
    });
  });

  it('documents every key in .env.example and the README', () => {
    const example = readFileSync(new URL('../.env.example', import.meta.url), 'utf8');
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    for (const key of Object.keys(worker.configSpec)) {
      expect(example, key).toMatch(new RegExp(`^(# )?${key}=`, 'm'));
      if (key.startsWith('SMTP_') || key.startsWith('EMAIL_') || key.startsWith('APP_')) {
        expect(readme, key).toContain(`\`${key}\``);
      }
    }
  });

  it('sizes the concurrency from the SMTP pool unless WORKER_CONCURRENCY says otherwise', () => {
    expect(worker.concurrency(worker.loadConfig({ SMTP_MAX_CONNECTIONS: '3' })).emails).toBe(24);
    const given = worker.loadConfig({ SMTP_MAX_CONNECTIONS: '3', WORKER_CONCURRENCY: '2' });
    expect(worker.concurrency(given).emails).toBe(2);
    expect(() => worker.loadConfig({ WORKER_CONCURRENCY: '0' })).toThrow(
      /WORKER_CONCURRENCY: must be an integer from 1 to 1000/,
    );
  });

  it('has no ledger expiry to set: the ledger lives in the jobs, and an old EMAIL_LEDGER_TTL_MS is ignored', () => {
    expect(Object.keys(worker.configSpec)).not.toContain('EMAIL_LEDGER_TTL_MS');
    expect(worker.loadConfig({ EMAIL_LEDGER_TTL_MS: '8d' })).not.toHaveProperty('emailLedgerTtlMs');
  });

  it('reads the SMTP keys', () => {
    const config = worker.loadConfig({
      SMTP_URL: 'smtps://mailer%40acme:p%40ss%3Aw0rd@smtp.acme.example',
      SMTP_STARTTLS: 'required',
      SMTP_TLS_REJECT_UNAUTHORIZED: 'false',
      SMTP_TLS_CA_FILE: TEST_CERT_FILE,
      SMTP_EHLO_NAME: 'worker-1.acme.example',
      SMTP_MAX_CONNECTIONS: '2',
      SMTP_MAX_MESSAGES: '50',
      SMTP_CONNECTION_TIMEOUT_MS: '5s',
      SMTP_GREETING_TIMEOUT_MS: '3000',
      SMTP_SOCKET_TIMEOUT_MS: '2m',
      EMAIL_RATE_LIMIT: '2.5',
    });
    expect(config).toMatchObject({
      smtpUrl: {
        secure: true,
        host: 'smtp.acme.example',
        port: 465,
        auth: { user: 'mailer@acme', pass: 'p@ss:w0rd' },
      },
      smtpStarttls: 'required',
      smtpTlsRejectUnauthorized: false,
      smtpTlsCaFile: TEST_CERT,
      smtpEhloName: 'worker-1.acme.example',
      smtpMaxConnections: 2,
      smtpMaxMessages: 50,
      smtpConnectionTimeoutMs: 5_000,
      smtpGreetingTimeoutMs: 3_000,
      smtpSocketTimeoutMs: 120_000,
      emailRateLimit: 2.5,
    });
    expect(worker.loadConfig({ EMAIL_RATE_LIMIT: '0' }).emailRateLimit).toBeUndefined();
  });

  it('refuses bad SMTP keys without echoing the SMTP URL, which may hold a password', () => {
    try {
      worker.loadConfig({
        SMTP_URL: 'http://user:hunter2@smtp.example',
        SMTP_STARTTLS: 'maybe',
        SMTP_TLS_CA_FILE: '/nonexistent/ca.pem',
        SMTP_MAX_CONNECTIONS: '0',
        EMAIL_RATE_LIMIT: '-1',
      });
      expect.unreachable();
    } catch (error) {
      const issues = (error as ConfigError).issues;
      expect(issues.map((issue) => issue.split(':')[0]).sort()).toEqual([
        'EMAIL_RATE_LIMIT',
        'SMTP_MAX_CONNECTIONS',
        'SMTP_STARTTLS',
        'SMTP_TLS_CA_FILE',
        'SMTP_URL',
      ]);
      expect(issues.join('\n')).not.toContain('hunter2');
      expect(issues.find((issue) => issue.startsWith('SMTP_TLS_CA_FILE'))).toMatch(
        /cannot be read \(ENOENT\)/,
      );
    }
  });

  it('reads every key', () => {
    const config = worker.loadConfig({
      EMAIL_OUTBOX_DIR: 'mail/out',
      EMAIL_FROM: '"Acme, Inc." <hello@acme.example>',
      EMAIL_SEND_DELAY_MS: '2s',
      APP_NAME: 'Acme',
      APP_URL: 'https://acme.example/app',
      WORKER_CONCURRENCY: '3',
    });
    expect(config).toMatchObject({
      emailOutboxDir: resolve('mail/out'),
      emailFrom: { name: 'Acme, Inc.', address: 'hello@acme.example' },
      emailSendDelayMs: 2_000,
      appName: 'Acme',
      appUrl: 'https://acme.example/app',
      workerConcurrency: 3,
    });
    expect(worker.loadConfig({ EMAIL_OUTBOX_DIR: '/var/mail' }).emailOutboxDir).toBe('/var/mail');
  });

  it('names every bad key in one error', () => {
    const load = () =>
      worker.loadConfig({
        EMAIL_FROM: 'not an address',
        APP_URL: 'ftp://files.example',
        EMAIL_SEND_DELAY_MS: 'soon',
        METRICS_PORT: 'x',
      });
    expect(load).toThrow(ConfigError);
    try {
      load();
    } catch (error) {
      const keys = (error as ConfigError).issues.map((issue) => issue.split(':')[0]);
      expect(keys.sort()).toEqual(['APP_URL', 'EMAIL_FROM', 'EMAIL_SEND_DELAY_MS', 'METRICS_PORT']);
    }
  });
});

describe('parseMailbox', () => {
  it('accepts a bare address or a named one', () => {
    expect(parseMailbox('a@example.com')).toEqual({ name: '', address: 'a@example.com' });
    expect(parseMailbox('Ada <ada@example.com>')).toEqual({ name: 'Ada', address: 'ada@example.com' });
  });

  it('refuses anything but exactly one valid address, and header injection', () => {
    expect(() => parseMailbox('a@example.com, b@example.com')).toThrow(/one e-mail address/);
    expect(() => parseMailbox('Ada')).toThrow(/one e-mail address/);
    expect(() => parseMailbox('Ada <not-an-address>')).toThrow(/one e-mail address/);
    expect(() => parseMailbox('Ada <a@example.com>\r\nBcc: b@example.com')).toThrow(/control characters/);
  });
});

describe('parseSmtpUrl', () => {
  it('reads host, port, TLS and percent-encoded credentials; ports default to 587 and 465', () => {
    expect(parseSmtpUrl('smtp://mail.example')).toEqual({
      secure: false,
      host: 'mail.example',
      port: 587,
      auth: undefined,
    });
    expect(parseSmtpUrl('smtps://u:p@mail.example')).toEqual({
      secure: true,
      host: 'mail.example',
      port: 465,
      auth: { user: 'u', pass: 'p' },
    });
    expect(parseSmtpUrl('smtp://[::1]:2525/')).toMatchObject({ host: '::1', port: 2525 });
    expect(parseSmtpUrl('smtp://apikey@mail.example:25')).toMatchObject({
      auth: { user: 'apikey', pass: '' },
    });
  });

  it('refuses other schemes, options in the URL, a password without a user and bad encodings', () => {
    expect(() => parseSmtpUrl('http://mail.example')).toThrow(/smtp: or smtps:/);
    expect(() => parseSmtpUrl('smtp://mail.example?pool=true')).toThrow(/SMTP_\* keys/);
    expect(() => parseSmtpUrl('smtp://mail.example/path')).toThrow(/SMTP_\* keys/);
    expect(() => parseSmtpUrl('smtp://:secret@mail.example')).toThrow(/no user name/);
    expect(() => parseSmtpUrl('smtp://u:%E0%A4%A@mail.example')).toThrow(/percent-encoded password/);
    expect(() => parseSmtpUrl('mail.example')).toThrow(/must be a URL/);
  });

  it('describes the endpoint for logs without the password', () => {
    expect(describeSmtpEndpoint(parseSmtpUrl('smtps://a%40b:secret@mail.example'))).toBe(
      'smtps://a%40b@mail.example:465',
    );
    expect(describeSmtpEndpoint(parseSmtpUrl('smtp://[::1]:25'))).toBe('smtp://[::1]:25');
  });
});

describe('rateLimiter', () => {
  it("turns messages per second into BullMQ's limiter without rounding the rate up", () => {
    expect(rateLimiter(10)).toEqual({ max: 10, duration: 1_000 });
    expect(rateLimiter(0.5)).toEqual({ max: 1, duration: 2_000 });
    expect(rateLimiter(2.5)).toEqual({ max: 1, duration: 400 });
    expect(() => rateLimiter(0)).toThrow(RangeError);
  });
});
