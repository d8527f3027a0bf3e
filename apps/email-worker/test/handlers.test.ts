import { createLogger } from '@jobfleet/service-kit';
import { logSink } from '@jobfleet/test-utils';
import { type JobContext, JobLockLostError } from '@jobfleet/worker-runtime';
import type { Job } from 'bullmq';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import type { DeliveryLedger, DeliveryRecord } from '../src/delivery-ledger.js';
import { createEmailHandlers, type EmailHandlerDeps } from '../src/handlers.js';
import { emailMetrics } from '../src/metrics.js';
import { PermanentSmtpError, SmtpDeliveryError } from '../src/smtp-errors.js';
import type { MailTransport, OutgoingMessage } from '../src/transport.js';

/** A ledger in a Map, keyed like the Redis one by job id and creation time. */
function memoryLedger() {
  const records = new Map<string, DeliveryRecord>();
  const ledger: DeliveryLedger = {
    lookup: async (job) => records.get(`${job.jobId}@${job.createdAt}`),
    record: async (job, delivery) => {
      records.set(`${job.jobId}@${job.createdAt}`, delivery);
      return true;
    },
  };
  return { ledger, records };
}

/** The handlers with a fresh ledger and metrics registry unless given. */
function handlersWith(deps: Partial<EmailHandlerDeps> & Pick<EmailHandlerDeps, 'transport'>) {
  const registry = new Registry();
  const handlers = createEmailHandlers({
    ledger: memoryLedger().ledger,
    metrics: emailMetrics(registry),
    from,
    brand,
    ...deps,
  });
  return { handlers, registry };
}

/** A transport that keeps what it was given. */
function fakeTransport() {
  const sent: OutgoingMessage[] = [];
  const transport: MailTransport = {
    kind: 'outbox',
    async send(message, options) {
      options?.cancellation?.throwIfAborted();
      sent.push(message);
      return { messageId: message.messageId };
    },
    async close() {},
  };
  return { transport, sent };
}

/**
 * A job context with a logger whose lines the test can read; by default not a first start (the
 * runtime's `firstStart`), so the handler looks the ledger up.
 */
function context(jobId = '42', signal = new AbortController().signal, owned = true, firstStart = false) {
  const { destination, lines } = logSink();
  const log = createLogger({ service: 'test', destination }).child({ job_id: jobId });
  const job = {
    id: jobId,
    timestamp: 1_700_000_000_000,
    queueQualifiedName: 'jobfleet:emails',
  } as unknown as Job;
  const ensureOwned = async () => {
    if (!owned) throw new JobLockLostError(jobId);
  };
  const ctx: JobContext = {
    job,
    log,
    signal,
    throwIfAborted: () => signal.throwIfAborted(),
    attempt: 1,
    firstStart,
    ensureOwned,
  };
  return { ctx, lines };
}

const from = { name: 'Acme', address: 'no-reply@Mail.Acme.example' };
const brand = { appName: 'Acme', appUrl: 'https://acme.example' };

describe('email handlers', () => {
  it('sends nothing when the worker no longer holds the job (its lock went to another worker)', async () => {
    const { transport, sent } = fakeTransport();
    const { ledger, records } = memoryLedger();
    const { handlers } = handlersWith({ transport, ledger });
    const { ctx } = context('43', undefined, false);
    await expect(
      handlers.welcome({ userId: 1, to: 'ada@example.com', name: 'Ada' }, ctx),
    ).rejects.toBeInstanceOf(JobLockLostError);
    expect(sent).toHaveLength(0);
    expect(records.size).toBe(0);
  });

  it('renders welcome, delivers it with a Message-ID derived from the job, and returns the contract result', async () => {
    const { transport, sent } = fakeTransport();
    const handlers = handlersWith({ transport }).handlers;
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

  it('gives every job its own Message-ID, derived from the job', async () => {
    const { transport, sent } = fakeTransport();
    const handlers = handlersWith({ transport }).handlers;
    const data = { userId: 1, to: 'a@example.com', resetUrl: 'https://acme.example/r?t=1' };
    await handlers['password-reset'](data, context('7').ctx);
    await handlers['password-reset'](data, context('8').ctx);
    expect(sent.map((m) => m.messageId)).toEqual([
      '<emails.7.1700000000000@mail.acme.example>',
      '<emails.8.1700000000000@mail.acme.example>',
    ]);
    expect(sent[0]?.subject).toBe('Reset your Acme password');
  });

  it('sends a job once: a rerun finds the delivery in the ledger and returns the same result without sending', async () => {
    const { transport, sent } = fakeTransport();
    const { ledger, records } = memoryLedger();
    const { handlers, registry } = handlersWith({ transport, ledger });
    const data = { userId: 1, to: 'a@example.com', resetUrl: 'https://acme.example/r?t=1' };
    const first = await handlers['password-reset'](data, context('7').ctx);
    expect(records.get('7@1700000000000')).toMatchObject({ messageId: first.messageId, transport: 'outbox' });
    const { ctx, lines } = context('7');
    const again = await handlers['password-reset'](data, ctx);
    expect(again).toEqual(first);
    expect(sent).toHaveLength(1);
    expect(lines).toContainEqual(
      expect.objectContaining({
        msg: 'e-mail already delivered by an earlier attempt; not sending it again',
        message_id: first.messageId,
      }),
    );
    const metrics = await registry.metrics();
    expect(metrics).toContain('jobfleet_emails_sent_total{template="password-reset"} 1');
    expect(metrics).toContain('jobfleet_emails_sent_total{template="welcome"} 0');
  });

  it('still completes a delivered job when the ledger cannot record it, and says so', async () => {
    const { transport, sent } = fakeTransport();
    const ledger: DeliveryLedger = {
      lookup: async () => undefined,
      record: async () => {
        throw new Error('READONLY You cannot write against a read only replica.');
      },
    };
    const { handlers } = handlersWith({ transport, ledger });
    const { ctx, lines } = context('9');
    const result = await handlers.welcome({ userId: 1, to: 'a@example.com' }, ctx);
    expect(result.transport).toBe('outbox');
    expect(sent).toHaveLength(1);
    expect(lines).toContainEqual(
      expect.objectContaining({
        level: 50,
        msg: 'e-mail delivered, but the delivery ledger could not record it; a rerun of this job would send it again',
      }),
    );
  });

  it('sends a notification with a one-line subject, and caller HTML only after sanitising it', async () => {
    const { transport, sent } = fakeTransport();
    const handlers = handlersWith({ transport }).handlers;
    await handlers.notification(
      {
        to: 'a@example.com',
        subject: 'Hi\r\nBcc: x@example.com',
        text: 'a <b>',
        html: '<p onclick="steal()">Build <b>green</b></p><script>x</script>',
      },
      context().ctx,
    );
    expect(sent[0]?.subject).toBe('Hi Bcc: x@example.com');
    expect(sent[0]?.html).toContain('<p>Build <b>green</b></p>');
    expect(sent[0]?.html).not.toMatch(/<script|onclick|steal/);
    expect(sent[0]?.text).toBe('a <b>\n');
  });

  it('logs the job, template and Message-ID, never the recipient or the content', async () => {
    const { transport } = fakeTransport();
    const handlers = handlersWith({ transport }).handlers;
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
    const handlers = handlersWith({ transport, sendDelayMs: 60_000 }).handlers;
    const controller = new AbortController();
    const running = handlers.welcome({ userId: 1, to: 'a@example.com' }, context('1', controller.signal).ctx);
    expect(sent).toHaveLength(0);
    controller.abort(new Error('cancelled by an operator'));
    await expect(running).rejects.toThrow();
    expect(sent).toHaveLength(0);

    const short = handlersWith({ transport, sendDelayMs: 30 }).handlers;
    const started = performance.now();
    await short.welcome({ userId: 1, to: 'a@example.com' }, context('2').ctx);
    expect(performance.now() - started).toBeGreaterThanOrEqual(25);
    expect(sent).toHaveLength(1);
  });

  it('renews the lock in the same turn as the ledger lookup, and sends only once both have answered', async () => {
    const { transport, sent } = fakeTransport();
    const steps: string[] = [];
    let answerLookup: (record: undefined) => void = () => {};
    const ledger: DeliveryLedger = {
      lookup: () => {
        steps.push('lookup');
        return new Promise((resolve) => {
          answerLookup = resolve;
        });
      },
      record: async () => {
        steps.push('record');
        return true;
      },
    };
    const { ctx } = context('44');
    const handlers = handlersWith({ transport, ledger }).handlers;
    const running = handlers.welcome(
      { userId: 1, to: 'a@example.com' },
      {
        ...ctx,
        ensureOwned: async () => {
          steps.push('ensureOwned');
        },
      },
    );
    // Both requested before either has answered: they go out together.
    expect(steps).toEqual(['lookup', 'ensureOwned']);
    await new Promise((resolve) => setImmediate(resolve));
    expect(sent).toHaveLength(0);
    answerLookup(undefined);
    await running;
    expect(sent).toHaveLength(1);
    expect(steps).toEqual(['lookup', 'ensureOwned', 'record']);
  });

  it('with EMAIL_SEND_DELAY_MS, renews the lock after the pause: a lock lost during it sends nothing', async () => {
    const { transport, sent } = fakeTransport();
    const handlers = handlersWith({ transport, sendDelayMs: 30 }).handlers;
    let owned = true;
    const { ctx } = context('45');
    const running = handlers.welcome(
      { userId: 1, to: 'a@example.com' },
      {
        ...ctx,
        ensureOwned: async () => {
          if (!owned) throw new JobLockLostError('45');
        },
      },
    );
    // The lookup has answered and the pause has begun; the lock goes to another worker meanwhile.
    await new Promise((resolve) => setImmediate(resolve));
    owned = false;
    await expect(running).rejects.toBeInstanceOf(JobLockLostError);
    expect(sent).toHaveLength(0);
  });

  it('logs the SMTP failure class, never the recipient, and passes the error on', async () => {
    const failure = (permanent: boolean) =>
      permanent
        ? new PermanentSmtpError(
            { class: 'reply_5xx', permanent, responseCode: 550, command: 'RCPT TO', detail: '' },
            'SMTP server replied 550 5.1.1 [recipient] unknown to RCPT TO',
          )
        : new SmtpDeliveryError(
            { class: 'timeout', permanent, command: 'CONN', detail: '' },
            'SMTP socket timeout: Timeout',
          );
    for (const permanent of [true, false]) {
      const transport: MailTransport = {
        kind: 'smtp',
        send: async () => {
          throw failure(permanent);
        },
        close: async () => {},
      };
      const { handlers, registry } = handlersWith({ transport });
      const { ctx, lines } = context('5');
      const sending = handlers.welcome({ userId: 1, to: 'ada.lovelace@example.com' }, ctx);
      await expect(sending).rejects.toThrow(permanent ? PermanentSmtpError : SmtpDeliveryError);
      expect(lines).toContainEqual(
        expect.objectContaining({
          template: 'welcome',
          smtp_class: permanent ? 'reply_5xx' : 'timeout',
          permanent,
          msg: permanent ? 'e-mail refused for good by the SMTP server' : 'e-mail not delivered this time',
        }),
      );
      expect(JSON.stringify(lines)).not.toContain('ada.lovelace');
      expect(await registry.metrics()).toContain('jobfleet_emails_sent_total{template="welcome"} 0');
    }
  });

  it('passes transport failures on, so the runtime retries the job', async () => {
    const transport: MailTransport = {
      kind: 'outbox',
      send: async () => {
        throw new Error('disk full');
      },
      close: async () => {},
    };
    const handlers = handlersWith({ transport }).handlers;
    await expect(handlers.welcome({ userId: 1, to: 'a@example.com' }, context().ctx)).rejects.toThrow(
      'disk full',
    );
  });
  it("sends a job's first start without looking the ledger up, but still checks its lock before sending", async () => {
    const { transport, sent } = fakeTransport();
    const steps: string[] = [];
    const ledger: DeliveryLedger = {
      lookup: async () => {
        steps.push('lookup');
        return undefined;
      },
      record: async () => {
        steps.push(`record after ${sent.length} sent`);
        return true;
      },
    };
    const handlers = handlersWith({ transport, ledger }).handlers;
    const { ctx } = context('46', undefined, true, true);
    await handlers.welcome(
      { userId: 1, to: 'a@example.com' },
      {
        ...ctx,
        ensureOwned: async () => {
          // The runtime answers this without Redis while the lock taken by the fetch is fresh.
          steps.push(`ensureOwned after ${sent.length} sent`);
        },
      },
    );
    expect(sent).toHaveLength(1);
    expect(steps).toEqual(['ensureOwned after 0 sent', 'record after 1 sent']);
  });

  it('sends nothing on a first start whose lock was lost (an event loop stalled past the lock)', async () => {
    const { transport, sent } = fakeTransport();
    const { ledger, records } = memoryLedger();
    const handlers = handlersWith({ transport, ledger }).handlers;
    const { ctx } = context('48', undefined, false, true);
    await expect(handlers.welcome({ userId: 1, to: 'a@example.com' }, ctx)).rejects.toBeInstanceOf(
      JobLockLostError,
    );
    expect(sent).toHaveLength(0);
    expect(records.size).toBe(0);
  });
});
