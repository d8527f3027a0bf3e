import { resolve } from 'node:path';
import { ConfigError, loadConfig } from '@jobfleet/service-kit';
import { describe, expect, it } from 'vitest';
import { emailWorkerConfig, parseMailbox } from '../src/index.js';

describe('email worker config', () => {
  it('has working defaults: port 9101, concurrency 10, outbox under the working directory', () => {
    const config = loadConfig(emailWorkerConfig, {});
    expect(config).toMatchObject({
      metricsPort: 9101,
      workerConcurrency: 10,
      emailOutboxDir: resolve(process.cwd(), '.data/outbox'),
      emailFrom: { name: 'jobfleet', address: 'no-reply@jobfleet.local' },
      emailSendDelayMs: 0,
      appName: 'jobfleet',
      appUrl: undefined,
    });
  });

  it('reads every key', () => {
    const config = loadConfig(emailWorkerConfig, {
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
    expect(loadConfig(emailWorkerConfig, { EMAIL_OUTBOX_DIR: '/var/mail' }).emailOutboxDir).toBe('/var/mail');
  });

  it('names every bad key in one error', () => {
    const load = () =>
      loadConfig(emailWorkerConfig, {
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
