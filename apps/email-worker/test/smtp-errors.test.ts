import { PermanentJobError } from '@jobfleet/worker-runtime';
import { UnrecoverableError } from 'bullmq';
import { describe, expect, it } from 'vitest';
import {
  classifySmtpError,
  PermanentSmtpError,
  redactRecipient,
  SmtpDeliveryError,
  smtpError,
} from '../src/smtp-errors.js';

/** An error shaped the way nodemailer hands them back. */
const nodemailerError = (message: string, fields: Record<string, unknown>) =>
  Object.assign(new Error(message), fields);

describe('classifySmtpError', () => {
  it('makes a 5xx reply permanent and keeps the reply', () => {
    const failure = classifySmtpError(
      nodemailerError("Can't send mail - all recipients were rejected: 550 5.1.1 Mailbox unavailable", {
        code: 'EENVELOPE',
        response: '550 5.1.1 Mailbox unavailable',
        responseCode: 550,
        permanent: true,
        command: 'RCPT TO',
      }),
    );
    expect(failure).toEqual({
      class: 'reply_5xx',
      permanent: true,
      responseCode: 550,
      command: 'RCPT TO',
      detail: 'SMTP server replied 550 5.1.1 Mailbox unavailable to RCPT TO',
    });
  });

  it('makes a 4xx reply temporary, and 503 too (a session-state error, not a verdict)', () => {
    expect(
      classifySmtpError(
        nodemailerError('Message failed: 451 4.3.0 Try again later', {
          code: 'EMESSAGE',
          response: '451 4.3.0 Try again later',
          responseCode: 451,
          permanent: false,
          command: 'DATA',
        }),
      ),
    ).toMatchObject({ class: 'reply_4xx', permanent: false, responseCode: 451 });
    expect(
      classifySmtpError(
        nodemailerError('x', { code: 'EPROTOCOL', response: '503 Bad sequence', responseCode: 503 }),
      ),
    ).toMatchObject({ class: 'reply_5xx', permanent: false });
  });

  it('tells timeouts, TLS failures and broken connections apart; all are temporary', () => {
    expect(
      classifySmtpError(
        nodemailerError('Timeout', { code: 'ETIMEDOUT', timeoutType: 'SOCKET_TIMEOUT', command: 'CONN' }),
      ),
    ).toMatchObject({ class: 'timeout', permanent: false, detail: 'SMTP socket timeout: Timeout' });
    expect(
      classifySmtpError(nodemailerError('Greeting never received', { code: 'ETIMEDOUT' })),
    ).toMatchObject({
      class: 'timeout',
    });
    expect(
      classifySmtpError(nodemailerError('self-signed certificate', { code: 'ETLS', command: 'CONN' })),
    ).toMatchObject({ class: 'tls', permanent: false });
    expect(
      classifySmtpError(
        nodemailerError('self-signed certificate', {
          code: 'ESOCKET',
          originalCode: 'DEPTH_ZERO_SELF_SIGNED_CERT',
        }),
      ),
    ).toMatchObject({
      class: 'tls',
      detail: 'SMTP TLS failure (DEPTH_ZERO_SELF_SIGNED_CERT): self-signed certificate',
    });
    // A server that answers STARTTLS with 5xx: still a TLS problem of the connection, retried.
    expect(
      classifySmtpError(
        nodemailerError('Error initiating TLS', {
          code: 'ETLS',
          response: '502 5.5.1 Unrecognized command',
          responseCode: 502,
          command: 'STARTTLS',
        }),
      ),
    ).toEqual({
      class: 'tls',
      permanent: false,
      responseCode: 502,
      command: 'STARTTLS',
      detail: 'SMTP TLS failure to STARTTLS: server replied 502 5.5.1 Unrecognized command',
    });
    expect(
      classifySmtpError(
        nodemailerError('connect ECONNREFUSED 127.0.0.1:1', {
          code: 'ESOCKET',
          originalCode: 'ECONNREFUSED',
        }),
      ),
    ).toMatchObject({
      class: 'connection',
      permanent: false,
      detail: 'SMTP connection failure (ECONNREFUSED): connect ECONNREFUSED 127.0.0.1:1',
    });
    expect(
      classifySmtpError(nodemailerError('Connection closed unexpectedly', { code: 'ECONNECTION' })),
    ).toMatchObject({ class: 'connection' });
  });

  it('puts anything else in "other", temporary', () => {
    expect(classifySmtpError(new Error('boom'))).toMatchObject({ class: 'other', permanent: false });
    expect(classifySmtpError('a string')).toMatchObject({ class: 'other', detail: 'SMTP failure: a string' });
  });

  it('joins a multi-line reply on one line and shortens a huge one', () => {
    const failure = classifySmtpError(
      nodemailerError('x', {
        response: `550-5.7.1 Blocked\r\n550 5.7.1 See ${'x'.repeat(1_000)}`,
        responseCode: 550,
      }),
    );
    expect(failure.detail).toMatch(/^SMTP server replied 550-5\.7\.1 Blocked \/ 550 5\.7\.1 See x+…$/);
    expect(failure.detail.length).toBeLessThan(540);
  });
});

describe('smtpError', () => {
  const reply = classifySmtpError(
    nodemailerError('x', {
      response: '550 5.1.1 <Ada@Example.com>: Recipient address rejected',
      responseCode: 550,
      command: 'RCPT TO',
    }),
  );

  it('throws a PermanentJobError (BullMQ: no retry) for a permanent failure, a plain Error otherwise', () => {
    const permanent = smtpError(reply, 'ada@example.com');
    expect(permanent).toBeInstanceOf(PermanentSmtpError);
    expect(permanent).toBeInstanceOf(PermanentJobError);
    expect(permanent).toBeInstanceOf(UnrecoverableError);
    expect(permanent).toMatchObject({ smtpClass: 'reply_5xx', responseCode: 550, command: 'RCPT TO' });
    const temporary = smtpError(
      classifySmtpError(nodemailerError('Timeout', { code: 'ETIMEDOUT' })),
      'a@b.c',
    );
    expect(temporary).toBeInstanceOf(SmtpDeliveryError);
    expect(temporary).not.toBeInstanceOf(UnrecoverableError);
  });

  it('keeps the recipient address out of the message, which reaches logs', () => {
    expect(smtpError(reply, 'ada@example.com').message).toBe(
      'SMTP server replied 550 5.1.1 <[recipient]>: Recipient address rejected to RCPT TO',
    );
    expect(redactRecipient('a.b@x.y and axb@x.y', 'a.b@x.y')).toBe('[recipient] and axb@x.y');
  });
});
