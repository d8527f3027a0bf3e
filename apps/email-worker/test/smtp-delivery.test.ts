import { emails } from '@jobfleet/queue-contracts';
import { promtoolCheckMetrics } from '@jobfleet/test-utils';
import { simpleParser } from 'mailparser';
import { describe, expect, it } from 'vitest';
import { DELIVERY_FIELD, jobHashKey } from '../src/delivery-ledger.js';
import { PermanentSmtpError, SmtpDeliveryError } from '../src/smtp-errors.js';
import { useSmtpWorker } from './smtp-setup.js';
import type { ReceivedMessage } from './test-smtp-server.js';

const { setup } = useSmtpWorker();

const parse = (message: ReceivedMessage | undefined) => simpleParser(message?.raw ?? Buffer.alloc(0));

describe('SMTP delivery', () => {
  it('delivers a welcome job: one message with recipient, subject, both parts escaped, and the Message-ID of the job', async () => {
    const { smtp, add, events, redis, scrape } = await setup();
    const job = await add('welcome', { userId: 123, to: 'ada@example.com', name: '<b>Ada</b> & "co"' });
    const result = await job.waitUntilFinished(events, 10_000);
    const messageId = `<emails.${job.id}.${job.timestamp}@jobfleet.local>`;
    expect(result).toEqual({ messageId, transport: 'smtp' });

    expect(smtp.messages).toHaveLength(1);
    const [received] = smtp.messages;
    expect(received).toMatchObject({ mailFrom: 'no-reply@jobfleet.local', rcptTo: ['ada@example.com'] });
    const mail = await parse(received);
    expect(mail.messageId).toBe(messageId);
    expect(mail.from?.value).toEqual([{ name: 'jobfleet', address: 'no-reply@jobfleet.local' }]);
    expect(mail.to).toMatchObject({ value: [{ address: 'ada@example.com' }] });
    expect(mail.subject).toBe('Welcome to jobfleet');
    expect(mail.headers.get('content-type')).toMatchObject({ value: 'multipart/alternative' });
    expect(mail.headers.get('auto-submitted')).toBe('auto-generated');
    expect(mail.text).toContain('Hi <b>Ada</b> & "co",');
    expect(mail.html).toContain('<p>Hi &lt;b&gt;Ada&lt;/b&gt; &amp; &quot;co&quot;,</p>');
    expect(mail.html).not.toContain('<b>Ada</b>');

    // The ledger recorded the delivery in the job's own hash (under the configured prefix), and nowhere else.
    const ledger = redis.connection();
    const key = jobHashKey(job);
    expect(key).toBe(`${redis.prefix}:emails:${job.id}`);
    expect(JSON.parse((await ledger.hget(key, DELIVERY_FIELD)) ?? '{}')).toMatchObject({
      messageId,
      transport: 'smtp',
      response: expect.stringMatching(/^250 /),
    });
    expect(await ledger.keys(`${redis.prefix}:email-ledger:*`)).toEqual([]);

    const metrics = await scrape();
    expect(metrics).toContain('jobfleet_emails_sent_total{template="welcome"} 1');
    expect(metrics).toContain('jobfleet_smtp_send_duration_seconds_count{outcome="accepted"} 1');
    expect(metrics).toContain('jobfleet_smtp_errors_total{class="reply_5xx"} 0');
    expect(promtoolCheckMetrics(metrics)).toBe('');
  });

  it('delivers password-reset and notification; the notification carries the caller text and sanitised HTML', async () => {
    const { smtp, add, events } = await setup();
    const reset = await add('password-reset', {
      userId: 1,
      to: 'ada@example.com',
      resetUrl: 'https://app.example/reset?token=a&b=1',
      expiresInMinutes: 30,
    });
    const note = await add('notification', {
      to: 'bob@example.com',
      subject: 'Build #12\r\nBcc: evil@example.com',
      text: 'Build 12 is green <3',
      html: '<p>Build <b>12</b> is <a href="https://ci.example/12" onclick="x()">green</a></p><script>steal()</script>',
    });
    await Promise.all([reset.waitUntilFinished(events, 10_000), note.waitUntilFinished(events, 10_000)]);
    expect(smtp.messages).toHaveLength(2);
    const byRecipient = new Map(smtp.messages.map((m) => [m.rcptTo[0], m]));

    const resetMail = await parse(byRecipient.get('ada@example.com'));
    expect(resetMail.subject).toBe('Reset your jobfleet password');
    expect(resetMail.text).toContain('https://app.example/reset?token=a&b=1');
    expect(resetMail.html).toContain('href="https://app.example/reset?token=a&amp;b=1"');

    const noteMail = await parse(byRecipient.get('bob@example.com'));
    expect(byRecipient.get('bob@example.com')?.rcptTo).toEqual(['bob@example.com']);
    expect(noteMail.subject).toBe('Build #12 Bcc: evil@example.com');
    expect(noteMail.headers.has('bcc')).toBe(false);
    expect(noteMail.text).toBe('Build 12 is green <3\n');
    expect(noteMail.html).toContain('<p>Build <b>12</b> is <a href="https://ci.example/12">green</a></p>');
    expect(noteMail.html).not.toMatch(/<script|onclick|steal/);
    expect(noteMail.messageId).toBe(`<emails.${note.id}.${note.timestamp}@jobfleet.local>`);
  });

  it("answers 451 twice, then 250: retried with the contract's backoff, completed on attempt 3, exactly one message", async () => {
    const { smtp, add, events, queue, worker, scrape } = await setup();
    smtp.script(
      { reply: 451, message: '4.3.0 Greylisted, try again later', at: 'data' },
      { reply: 451, message: '4.3.0 Greylisted, try again later', at: 'data' },
    );
    // The contract's own options: 5 attempts, exponential backoff from 1 s.
    expect(emails.defaultJobOptions.backoff).toEqual({ type: 'exponential', delay: 1_000 });
    const job = await add('welcome', { userId: 1, to: 'ada@example.com' });
    const result = await job.waitUntilFinished(events, 15_000);

    expect(result.transport).toBe('smtp');
    expect(smtp.messages).toHaveLength(1);
    expect(smtp.messages[0]?.messageId).toBe(result.messageId);
    expect(smtp.transactions).toHaveLength(3);
    const [first = 0, second = 0, third = 0] = smtp.transactions;
    expect(second - first).toBeGreaterThanOrEqual(950);
    expect(third - second).toBeGreaterThanOrEqual(1_950);
    const done = await queue.getJob(job.id ?? '');
    expect(await done?.getState()).toBe('completed');
    expect(done?.attemptsMade).toBe(3);

    const failures = worker.logs.filter((line) => line.msg === 'e-mail not delivered this time');
    expect(failures).toHaveLength(2);
    expect(failures[0]).toMatchObject({
      job_id: job.id,
      smtp_class: 'reply_4xx',
      smtp_code: 451,
      smtp_command: 'DATA',
      permanent: false,
    });
    expect(JSON.stringify(worker.logs)).not.toContain('ada@example.com');
    const metrics = await scrape();
    expect(metrics).toContain('jobfleet_smtp_errors_total{class="reply_4xx"} 2');
    expect(metrics).toContain('jobfleet_emails_sent_total{template="welcome"} 1');
    expect(metrics).toContain('jobfleet_smtp_send_duration_seconds_count{outcome="failed"} 2');
    expect(metrics).toContain(
      'jobfleet_jobs_processed_total{queue="emails",job_name="welcome",outcome="retried"} 2',
    );
  });

  it.each([
    ['RCPT TO', 'rcpt'],
    ['DATA', 'data'],
  ] as const)(
    'answers 550 to %s: no retry, one dead-letter record whose reason carries the SMTP reply',
    async (command, at) => {
      const { smtp, add, queue, deadLetterOf, deadLettersOf, worker, scrape } = await setup();
      smtp.script({ reply: 550, message: '5.1.1 Mailbox unavailable', at });
      const job = await add('welcome', { userId: 1, to: 'nobody@example.com' });
      const jobId = job.id ?? '';
      const record = await deadLetterOf(jobId);

      expect(record.data).toMatchObject({ queue: 'emails', jobId, jobName: 'welcome', attemptsMade: 1 });
      expect(record.data.failedReason).toContain('550 5.1.1 Mailbox unavailable');
      expect(record.data.failedReason).toBe(
        `SMTP server replied 550 5.1.1 Mailbox unavailable to ${command}`,
      );
      const failed = await queue.getJob(jobId);
      expect(await failed?.getState()).toBe('failed');
      expect(failed?.attemptsMade).toBe(1);
      expect(smtp.transactions).toHaveLength(1);
      expect(smtp.messages).toHaveLength(0);
      expect(await deadLettersOf(jobId)).toHaveLength(1);

      expect(worker.logs).toContainEqual(
        expect.objectContaining({
          msg: 'e-mail refused for good by the SMTP server',
          job_id: jobId,
          smtp_class: 'reply_5xx',
          smtp_code: 550,
          smtp_command: command,
          permanent: true,
        }),
      );
      const metrics = await scrape();
      expect(metrics).toContain('jobfleet_smtp_errors_total{class="reply_5xx"} 1');
      expect(metrics).toContain(
        'jobfleet_jobs_processed_total{queue="emails",job_name="welcome",outcome="dead_lettered"} 1',
      );
    },
  );

  it('times out on a server that never answers the message, and the retry delivers it', async () => {
    const { smtp, add, events, worker, scrape } = await setup({ env: { SMTP_SOCKET_TIMEOUT_MS: '300' } });
    smtp.script({ hang: true });
    const job = await add('welcome', { userId: 1, to: 'ada@example.com' });
    const result = await job.waitUntilFinished(events, 15_000);
    expect(result.transport).toBe('smtp');
    expect(smtp.transactions).toHaveLength(2);
    expect(smtp.messages).toHaveLength(1);
    expect(worker.logs).toContainEqual(
      expect.objectContaining({
        msg: 'e-mail not delivered this time',
        smtp_class: 'timeout',
        permanent: false,
      }),
    );
    expect(await scrape()).toContain('jobfleet_smtp_errors_total{class="timeout"} 1');
  });

  it.each(['rcpt', 'data'] as const)(
    'retries when the server drops the connection at %s, and the retry delivers once',
    async (at) => {
      const { smtp, add, events, worker, scrape } = await setup();
      smtp.script({ drop: at });
      const job = await add('welcome', { userId: 1, to: 'ada@example.com' });
      const result = await job.waitUntilFinished(events, 15_000);
      expect(result.transport).toBe('smtp');
      expect(smtp.transactions).toHaveLength(2);
      expect(smtp.messages).toHaveLength(1);
      expect(worker.logs).toContainEqual(
        expect.objectContaining({ msg: 'e-mail not delivered this time', smtp_class: 'connection' }),
      );
      expect(await scrape()).toContain('jobfleet_smtp_errors_total{class="connection"} 1');
    },
  );

  it('treats a refused connection as temporary, and readiness reports the server unusable', async () => {
    const { add, nextFailure, worker } = await setup({ smtpUrl: () => 'smtp://127.0.0.1:1' });
    const job = await add('welcome', { userId: 1, to: 'ada@example.com' });
    const error = await nextFailure(job.id ?? '');
    expect(error).toBeInstanceOf(SmtpDeliveryError);
    expect(error).toMatchObject({ smtpClass: 'connection' });
    expect(error.message).toMatch(/^SMTP connection failure \(ECONNREFUSED\)/);
    expect(await job.getState()).toBe('delayed');

    const ready = await fetch(`${worker.metricsUrl}/health/ready`);
    expect(ready.status).toBe(503);
    expect(JSON.stringify(await ready.json())).toMatch(
      /"name":"smtp","ok":false,"reason":"smtp:\/\/127\.0\.0\.1:1: SMTP connection failure/,
    );
  });

  it('completes a rerun of a delivered job without a second message (the ledger)', async () => {
    // The first attempt delivers, then fails before BullMQ records the success: a crash at the worst moment.
    let attempts = 0;
    const { smtp, add, events, worker } = await setup({
      wrap: (handlers) => ({
        ...handlers,
        welcome: async (data, context) => {
          const result = await handlers.welcome(data, context);
          attempts += 1;
          if (attempts === 1) throw new Error('lost the acknowledgement');
          return result;
        },
      }),
    });
    const job = await add(
      'welcome',
      { userId: 1, to: 'ada@example.com' },
      { backoff: { type: 'fixed', delay: 10 } },
    );
    const result = await job.waitUntilFinished(events, 10_000);
    expect(attempts).toBe(2);
    expect(smtp.transactions).toHaveLength(1);
    expect(smtp.messages).toHaveLength(1);
    expect(result.messageId).toBe(smtp.messages[0]?.messageId);
    expect(worker.logs).toContainEqual(
      expect.objectContaining({
        msg: 'e-mail already delivered by an earlier attempt; not sending it again',
        job_id: job.id,
        message_id: result.messageId,
      }),
    );
  });

  // bull-board's retry; and one with the started attempts reset, whose next start is again its "first"
  // by the started count while the finished attempt still counts.
  it.each([
    ["an operator retries a completed job (bull-board's retry)", {}],
    ['a completed job is retried with its started attempts reset', { resetAttemptsStarted: true }],
  ])('sends nothing again when %s', async (_case, retryOptions) => {
    const { smtp, add, events, worker } = await setup();
    const job = await add('welcome', { userId: 1, to: 'ada@example.com' });
    const first = await job.waitUntilFinished(events, 10_000);
    await job.retry('completed', retryOptions);
    // Subscribes, then checks the job's state: a rerun that finishes first is not missed.
    await job.waitUntilFinished(events, 10_000);
    expect(smtp.messages).toHaveLength(1);
    expect(worker.logs).toContainEqual(
      expect.objectContaining({
        msg: 'e-mail already delivered by an earlier attempt; not sending it again',
        job_id: job.id,
        message_id: first.messageId,
      }),
    );
  });

  it('logs that it delivers over SMTP, without the password, and is ready when the server answers', async () => {
    const { worker } = await setup({
      server: { auth: { user: 'mailer@acme', pass: 's3cret pass' } },
      smtpUrl: (server) => server.url.replace('//', '//mailer%40acme:s3cret%20pass@'),
    });
    const line = worker.logs.find((l) => l.msg === 'delivering e-mail over SMTP');
    expect(line).toMatchObject({
      transport: 'smtp',
      smtp: expect.stringMatching(/^smtp:\/\/mailer%40acme@127\.0\.0\.1:\d+$/),
    });
    expect(line).toMatchObject({ starttls: 'auto', max_connections: 5, max_messages: 100, concurrency: 40 });
    expect(worker.worker.concurrency).toBe(40);
    expect(JSON.stringify(worker.logs)).not.toContain('s3cret');
    const ready = await fetch(`${worker.metricsUrl}/health/ready`);
    expect(await ready.json()).toMatchObject({
      status: 'ok',
      checks: expect.arrayContaining([{ name: 'smtp', ok: true }]),
    });
  });

  it('authenticates with the credentials of SMTP_URL', async () => {
    const { smtp, add, events } = await setup({
      server: { auth: { user: 'mailer@acme', pass: 'p@ss word' } },
      smtpUrl: (server) => server.url.replace('//', '//mailer%40acme:p%40ss%20word@'),
    });
    const job = await add('welcome', { userId: 1, to: 'ada@example.com' });
    await job.waitUntilFinished(events, 10_000);
    expect(smtp.messages.map((m) => m.user)).toEqual(['mailer@acme']);
  });

  it('fails at once on rejected credentials (a 535 reply is permanent)', async () => {
    const { add, nextFailure, smtp } = await setup({
      server: { auth: { user: 'mailer@acme', pass: 'right' } },
      smtpUrl: (server) => server.url.replace('//', '//mailer%40acme:wrong@'),
    });
    const job = await add('welcome', { userId: 1, to: 'ada@example.com' });
    const error = await nextFailure(job.id ?? '');
    expect(error).toBeInstanceOf(PermanentSmtpError);
    expect(error.message).toContain('535 5.7.8 Authentication credentials invalid');
    expect(error.message).not.toContain('wrong');
    expect(smtp.transactions).toHaveLength(0);
  });
});
