import { describe, expect, it } from 'vitest';
import { SmtpDeliveryError } from '../src/smtp-errors.js';
import { useSmtpWorker } from './smtp-setup.js';
import { TEST_CERT_FILE } from './test-smtp-server.js';

const { setup } = useSmtpWorker();
const trustTestCa = { SMTP_TLS_CA_FILE: TEST_CERT_FILE };

describe('SMTP over TLS', () => {
  it('delivers over smtps:// (TLS from the first byte), trusting a private CA from SMTP_TLS_CA_FILE', async () => {
    const { smtp, add, events } = await setup({ server: { secure: true }, env: trustTestCa });
    expect(smtp.url).toMatch(/^smtps:/);
    const job = await add('welcome', { userId: 1, to: 'ada@example.com' });
    await job.waitUntilFinished(events, 10_000);
    expect(smtp.messages.map((m) => m.secure)).toEqual([true]);
  });

  it('upgrades an smtp:// connection with STARTTLS when the server offers it', async () => {
    const { smtp, add, events } = await setup({ server: { starttls: true }, env: trustTestCa });
    const job = await add('welcome', { userId: 1, to: 'ada@example.com' });
    await job.waitUntilFinished(events, 10_000);
    expect(smtp.messages.map((m) => m.secure)).toEqual([true]);
  });

  it('sends in clear text with SMTP_STARTTLS=off even when STARTTLS is offered', async () => {
    const { smtp, add, events } = await setup({ server: { starttls: true }, env: { SMTP_STARTTLS: 'off' } });
    const job = await add('welcome', { userId: 1, to: 'ada@example.com' });
    await job.waitUntilFinished(events, 10_000);
    expect(smtp.messages.map((m) => m.secure)).toEqual([false]);
  });

  it('with SMTP_STARTTLS=required, refuses to send to a server that does not offer STARTTLS', async () => {
    const { smtp, add, nextFailure, scrape } = await setup({ env: { SMTP_STARTTLS: 'required' } });
    const job = await add('welcome', { userId: 1, to: 'ada@example.com' });
    const error = await nextFailure(job.id ?? '');
    expect(error).toBeInstanceOf(SmtpDeliveryError);
    expect(error).toMatchObject({ smtpClass: 'tls' });
    expect(smtp.transactions).toHaveLength(0);
    expect(await scrape()).toContain('jobfleet_smtp_errors_total{class="tls"} 1');
  });

  it('refuses an untrusted certificate', async () => {
    const { smtp, add, nextFailure } = await setup({ server: { secure: true } });
    const job = await add('welcome', { userId: 1, to: 'ada@example.com' });
    const error = await nextFailure(job.id ?? '');
    expect(error).toBeInstanceOf(SmtpDeliveryError);
    expect(error.message).toMatch(/self[- ]signed certificate/);
    expect(error).toMatchObject({ smtpClass: 'tls' });
    expect(smtp.transactions).toHaveLength(0);
  });

  it('accepts an untrusted certificate with SMTP_TLS_REJECT_UNAUTHORIZED=false', async () => {
    const { smtp, add, events } = await setup({
      server: { secure: true },
      env: { SMTP_TLS_REJECT_UNAUTHORIZED: 'false' },
    });
    const job = await add('welcome', { userId: 1, to: 'ada@example.com' });
    await job.waitUntilFinished(events, 10_000);
    expect(smtp.messages.map((m) => m.secure)).toEqual([true]);
  });
});
