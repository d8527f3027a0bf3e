import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { simpleParser } from 'mailparser';
import { afterEach, describe, expect, it } from 'vitest';
import { messageIdFor } from '../src/message-id.js';
import { createOutboxTransport, outboxFileName } from '../src/outbox.js';
import { PermanentSmtpError, SmtpDeliveryError } from '../src/smtp-errors.js';
import type { OutgoingMessage } from '../src/transport.js';

const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'email-outbox-'));
  dirs.push(dir);
  return dir;
}
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

const message = (overrides: Partial<OutgoingMessage> = {}): OutgoingMessage => ({
  messageId: '<emails.7.1700000000000@jobfleet.local>',
  from: { name: 'jobfleet', address: 'no-reply@jobfleet.local' },
  to: 'ada@example.com',
  subject: 'Hello Ada',
  text: 'Hi Ada,\n\nwelcome.\n',
  html: '<!doctype html><html><body><p>Hi Ada,</p></body></html>',
  headers: { 'Auto-Submitted': 'auto-generated' },
  ...overrides,
});

describe('messageIdFor', () => {
  it('derives the id from queue, job id and creation time alone', () => {
    const parts = { queue: 'emails', jobId: '42', createdAt: 1_700_000_000_000, domain: 'example.com' };
    expect(messageIdFor(parts)).toBe('<emails.42.1700000000000@example.com>');
    expect(messageIdFor(parts)).toBe(messageIdFor({ ...parts }));
    expect(messageIdFor({ ...parts, createdAt: 1 })).not.toBe(messageIdFor(parts));
  });

  it('encodes job ids into atext injectively, so different ids never share a Message-ID', () => {
    const id = (jobId: string) => messageIdFor({ queue: 'emails', jobId, createdAt: 1, domain: 'x.example' });
    expect(id('a b/é')).toBe('<emails.a=20b=2F=C3=A9.1@x.example>');
    expect(id('a/b')).not.toBe(id('a_b'));
    expect(id('a=2Fb')).not.toBe(id('a/b'));
    expect(id('<x>@y')).toMatch(/^<emails\.[A-Za-z0-9_=-]+\.1@x\.example>$/);
  });

  it('hashes very long job ids, keeping the id short', () => {
    const long = messageIdFor({ queue: 'emails', jobId: 'x'.repeat(500), createdAt: 1, domain: 'x.example' });
    expect(long).toMatch(/^<emails\.=sha256-[0-9a-f]{40}@x\.example>$/);
    expect(long).not.toBe(
      messageIdFor({ queue: 'emails', jobId: 'y'.repeat(500), createdAt: 1, domain: 'x.example' }),
    );
  });
});

describe('outboxFileName', () => {
  it('names the file after the Message-ID, or a hash of an id that is no plain file name', () => {
    expect(outboxFileName('<emails.7.1@jobfleet.local>')).toBe('emails.7.1@jobfleet.local.eml');
    expect(outboxFileName('<../../etc/passwd>')).toMatch(/^message-[0-9a-f]{40}\.eml$/);
    expect(outboxFileName(`<${'a'.repeat(300)}@x>`)).toMatch(/^message-[0-9a-f]{40}\.eml$/);
    expect(outboxFileName('<a/b@x>')).not.toBe(outboxFileName('<a_b@x>'));
  });
});

describe('outbox transport', () => {
  it('writes one multipart/alternative RFC 5322 message named after its Message-ID', async () => {
    const dir = join(tempDir(), 'nested', 'outbox');
    const transport = createOutboxTransport({ dir });
    const result = await transport.send(message());
    expect(result).toEqual({ messageId: '<emails.7.1700000000000@jobfleet.local>' });
    expect(readdirSync(dir)).toEqual(['emails.7.1700000000000@jobfleet.local.eml']);

    const raw = readFileSync(transport.fileOf(result.messageId));
    expect(raw.toString()).toMatch(/\r\n\r\n/); // CRLF line ends, as RFC 5322 wants
    const parsed = await simpleParser(raw);
    expect(parsed.messageId).toBe(result.messageId);
    expect(parsed.from?.value).toEqual([{ name: 'jobfleet', address: 'no-reply@jobfleet.local' }]);
    expect(parsed.to).toMatchObject({ value: [{ address: 'ada@example.com' }] });
    expect(parsed.subject).toBe('Hello Ada');
    expect(parsed.headers.get('content-type')).toMatchObject({ value: 'multipart/alternative' });
    expect(parsed.headers.get('auto-submitted')).toBe('auto-generated');
    expect(parsed.text).toBe('Hi Ada,\n\nwelcome.\n');
    expect(parsed.html).toContain('<p>Hi Ada,</p>');
    await transport.close();
  });

  it('overwrites the file when the same message is sent again (a rerun), leaving no temporary file', async () => {
    const dir = tempDir();
    const transport = createOutboxTransport({ dir });
    await transport.send(message({ text: 'first\n' }));
    await transport.send(message({ text: 'second\n' }));
    expect(readdirSync(dir)).toEqual(['emails.7.1700000000000@jobfleet.local.eml']);
    const parsed = await simpleParser(readFileSync(join(dir, 'emails.7.1700000000000@jobfleet.local.eml')));
    expect(parsed.text).toBe('second\n');
  });

  it('sends nothing for a cancelled job', async () => {
    const dir = tempDir();
    const transport = createOutboxTransport({ dir });
    const controller = new AbortController();
    controller.abort(new Error('cancelled'));
    await expect(transport.send(message(), { cancellation: controller.signal })).rejects.toThrow('cancelled');
    expect(readdirSync(dir)).toEqual([]);
  });

  it('is ready when its directory can be created and written, not when it cannot', async () => {
    const base = tempDir();
    expect(await createOutboxTransport({ dir: join(base, 'new') }).readiness.check()).toEqual({ ok: true });
    const blocked = join(base, 'a-file');
    writeFileSync(blocked, '');
    const result = await createOutboxTransport({ dir: join(blocked, 'outbox') }).readiness.check();
    expect(result.ok).toBe(false);
    expect(result.reason).toMatch(/outbox directory .* is not writable \(ENOTDIR\)/);
    await expect(createOutboxTransport({ dir: join(blocked, 'outbox') }).send(message())).rejects.toThrow(
      /ENOTDIR/,
    );
  });

  it('refuses a recipient at reject.invalid for good, as a 550 to RCPT TO, and writes nothing', async () => {
    const dir = tempDir();
    const transport = createOutboxTransport({ dir });
    const error = await transport.send(message({ to: 'someone@Reject.Invalid' })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PermanentSmtpError);
    expect(error).toMatchObject({
      permanent: true,
      smtpClass: 'reply_5xx',
      responseCode: 550,
      command: 'RCPT TO',
      message:
        'SMTP server replied 550 5.1.1 Recipient address rejected: reject.invalid refuses every message to RCPT TO',
    });
    expect(readdirSync(dir)).toEqual([]);
  });

  it('defers a recipient at tempfail.invalid, as a 451 to RCPT TO (retried), and writes nothing', async () => {
    const dir = tempDir();
    const transport = createOutboxTransport({ dir });
    const error = await transport.send(message({ to: 'someone@tempfail.invalid' })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SmtpDeliveryError);
    expect(error).not.toBeInstanceOf(PermanentSmtpError);
    expect(error).toMatchObject({
      permanent: false,
      smtpClass: 'reply_4xx',
      responseCode: 451,
      command: 'RCPT TO',
    });
    expect((error as Error).message).toBe(
      'SMTP server replied 451 4.3.0 Recipient deferred: tempfail.invalid defers every message to RCPT TO',
    );
    expect(readdirSync(dir)).toEqual([]);
  });

  it('delivers to other .invalid addresses and to look-alike domains as usual', async () => {
    const dir = tempDir();
    const transport = createOutboxTransport({ dir });
    await transport.send(message({ to: 'someone@example.invalid', messageId: '<a@x>' }));
    await transport.send(message({ to: 'someone@notreject.invalid', messageId: '<b@x>' }));
    await transport.send(message({ to: 'reject.invalid@example.com', messageId: '<c@x>' }));
    expect(readdirSync(dir).sort()).toEqual(['a@x.eml', 'b@x.eml', 'c@x.eml']);
  });
});
