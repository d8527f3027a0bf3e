import { Writable } from 'node:stream';
import { createLogger } from '@jobfleet/service-kit';
import type { JobContext } from '@jobfleet/worker-runtime';
import type { Job } from 'bullmq';
import { describe, expect, it } from 'vitest';
import { createEmailHandlers, type MailTransport, type OutgoingMessage } from '../src/index.js';

/** A transport that keeps what it was given. */
function fakeTransport() {
  const sent: OutgoingMessage[] = [];
  const transport: MailTransport = {
    kind: 'outbox',
    async send(message, options) {
      options?.signal?.throwIfAborted();
      sent.push(message);
      return { messageId: message.messageId };
    },
    async close() {},
  };
  return { transport, sent };
}

/** A job context with a logger whose lines the test can read. */
function context(jobId = '42', signal = new AbortController().signal) {
  const lines: Array<Record<string, unknown>> = [];
  const destination = new Writable({
    write(chunk, _encoding, done) {
      lines.push(JSON.parse(String(chunk)));
      done();
    },
  });
  const log = createLogger({ service: 'test', destination }).child({ job_id: jobId });
  const job = { id: jobId, timestamp: 1_700_000_000_000 } as unknown as Job;
  const ctx: JobContext = { job, log, signal, attempt: 1 };
  return { ctx, lines };
}

const from = { name: 'Acme', address: 'no-reply@Mail.Acme.example' };
const brand = { appName: 'Acme', appUrl: 'https://acme.example' };

describe('email handlers', () => {
  it('renders welcome, delivers it with a Message-ID derived from the job, and returns the contract result', async () => {
    const { transport, sent } = fakeTransport();
    const handlers = createEmailHandlers({ transport, from, brand });
    const { ctx } = context('42');
    const result = await handlers.welcome({ userId: 123, to: 'ada@example.com', name: '<b>x</b>' }, ctx);
    expect(result).toEqual({ messageId: '<emails.42.1700000000000@mail.acme.example>', transport: 'outbox' });
    expect(sent).toHaveLength(1);
    expect(sent[0]).toMatchObject({
      messageId: result.messageId,
      from,
      to: 'ada@example.com',
      subject: 'Welcome to Acme',
      headers: { 'Auto-Submitted': 'auto-generated' },
    });
    expect(sent[0]?.html).toContain('Hi &lt;b&gt;x&lt;/b&gt;,');
    expect(sent[0]?.text).toContain('Hi <b>x</b>,');
  });

  it('gives every attempt of one job the same Message-ID, and other jobs other ones', async () => {
    const { transport, sent } = fakeTransport();
    const handlers = createEmailHandlers({ transport, from, brand });
    const data = { userId: 1, to: 'a@example.com', resetUrl: 'https://acme.example/r?t=1' };
    await handlers['password-reset'](data, context('7').ctx);
    await handlers['password-reset'](data, context('7').ctx);
    await handlers['password-reset'](data, context('8').ctx);
    expect(sent.map((m) => m.messageId)).toEqual([
      '<emails.7.1700000000000@mail.acme.example>',
      '<emails.7.1700000000000@mail.acme.example>',
      '<emails.8.1700000000000@mail.acme.example>',
    ]);
    expect(sent[0]?.subject).toBe('Reset your Acme password');
  });

  it('sends a notification with a one-line subject and the escaped text as HTML, ignoring caller HTML', async () => {
    const { transport, sent } = fakeTransport();
    const handlers = createEmailHandlers({ transport, from, brand });
    const { ctx, lines } = context();
    await handlers.notification(
      { to: 'a@example.com', subject: 'Hi\r\nBcc: x@example.com', text: 'a <b>', html: '<script>x</script>' },
      ctx,
    );
    expect(sent[0]?.subject).toBe('Hi Bcc: x@example.com');
    expect(sent[0]?.html).toContain('<p>a &lt;b&gt;</p>');
    expect(sent[0]?.html).not.toContain('<script>');
    expect(lines.map((l) => l.msg)).toContain('caller html ignored; sending the text as html');
  });

  it('logs the job, template and Message-ID, never the recipient or the content', async () => {
    const { transport } = fakeTransport();
    const handlers = createEmailHandlers({ transport, from, brand });
    const { ctx, lines } = context('42');
    await handlers.welcome({ userId: 123, to: 'ada.lovelace@example.com', name: 'Ada Lovelace' }, ctx);
    expect(lines).toContainEqual(
      expect.objectContaining({
        job_id: '42',
        template: 'welcome',
        message_id: '<emails.42.1700000000000@mail.acme.example>',
        transport: 'outbox',
        msg: 'e-mail delivered',
      }),
    );
    const logged = JSON.stringify(lines);
    expect(logged).not.toContain('ada.lovelace');
    expect(logged).not.toContain('Lovelace');
  });

  it('waits EMAIL_SEND_DELAY_MS before delivering, and a cancelled job stops waiting and sends nothing', async () => {
    const { transport, sent } = fakeTransport();
    const handlers = createEmailHandlers({ transport, from, brand, sendDelayMs: 60_000 });
    const controller = new AbortController();
    const running = handlers.welcome({ userId: 1, to: 'a@example.com' }, context('1', controller.signal).ctx);
    expect(sent).toHaveLength(0);
    controller.abort(new Error('cancelled by an operator'));
    await expect(running).rejects.toThrow();
    expect(sent).toHaveLength(0);

    const short = createEmailHandlers({ transport, from, brand, sendDelayMs: 30 });
    const started = performance.now();
    await short.welcome({ userId: 1, to: 'a@example.com' }, context('2').ctx);
    expect(performance.now() - started).toBeGreaterThanOrEqual(25);
    expect(sent).toHaveLength(1);
  });

  it('passes transport failures on, so the runtime retries the job', async () => {
    const transport: MailTransport = {
      kind: 'outbox',
      send: async () => {
        throw new Error('disk full');
      },
      close: async () => {},
    };
    const handlers = createEmailHandlers({ transport, from, brand });
    await expect(handlers.welcome({ userId: 1, to: 'a@example.com' }, context().ctx)).rejects.toThrow(
      'disk full',
    );
  });
});
