import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runToExit } from '@jobfleet/test-utils';
import { afterEach, describe, expect, it, onTestFinished } from 'vitest';
import { SmtpDeliveryError } from '../src/smtp-errors.js';
import { createSmtpTransport, type SmtpTransport } from '../src/smtp-transport.js';
import type { OutgoingMessage } from '../src/transport.js';
import { startTestSmtpServer, type TestSmtpServer } from './test-smtp-server.js';

const message = (to: string, n: number): OutgoingMessage => ({
  messageId: `<sender-test.${n}@jobfleet.local>`,
  from: { name: 'jobfleet', address: 'no-reply@jobfleet.local' },
  to,
  subject: `Message ${n}`,
  text: `Message ${n}`,
  html: `<p>Message ${n}</p>`,
});

const opened: Array<SmtpTransport | TestSmtpServer> = [];
afterEach(async () => {
  for (const item of opened.splice(0).reverse()) await item.close();
});

async function setup(senderModule: URL) {
  const smtp = await startTestSmtpServer();
  opened.push(smtp);
  const transport = createSmtpTransport({
    endpoint: { secure: false, host: '127.0.0.1', port: smtp.port },
    senderModule,
  });
  opened.push(transport);
  return { smtp, transport };
}

describe('the SMTP sender thread', () => {
  it('a thread that dies fails the messages it held as retriable, and the next message gets a new thread', async () => {
    const { smtp, transport } = await setup(new URL('./fixtures/crashing-sender.mjs', import.meta.url));
    await expect(transport.send(message('ada@example.com', 1))).resolves.toMatchObject({
      messageId: '<sender-test.1@jobfleet.local>',
      response: expect.stringMatching(/^250 /),
    });

    const lost = transport.send(message('crash@example.com', 2));
    await expect(lost).rejects.toBeInstanceOf(SmtpDeliveryError);
    await expect(lost).rejects.toMatchObject({
      permanent: false,
      smtpClass: 'other',
      message: expect.stringContaining('the SMTP sender thread failed: the sender thread broke'),
    });

    await expect(transport.send(message('bob@example.com', 3))).resolves.toMatchObject({
      messageId: '<sender-test.3@jobfleet.local>',
    });
    expect(smtp.messages.map((received) => received.rcptTo)).toEqual([
      ['ada@example.com'],
      ['bob@example.com'],
    ]);
  });

  it('keeps the process alive while a message waits for its reply (also after an idle moment), and not once idle', async () => {
    // Accepted only after a while, so a process held by nothing would end before the reply.
    const smtp = await startTestSmtpServer({
      beforeAccept: () => new Promise((resolve) => setTimeout(resolve, 300)),
    });
    opened.push(smtp);
    const dir = mkdtempSync(join(tmpdir(), 'smtp-sender-'));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    const script = join(dir, 'send-one.mjs');
    writeFileSync(
      script,
      `
      import { createSmtpTransport } from ${JSON.stringify(new URL('../dist/smtp-transport.js', import.meta.url).href)};
      const transport = createSmtpTransport({ endpoint: { secure: false, host: '127.0.0.1', port: ${smtp.port} } });
      // The second message is handed over once the first is answered, when the thread was idle a moment.
      transport
        .send(${JSON.stringify(message('ada@example.com', 1))})
        .then((first) => (console.log(first.response), transport.send(${JSON.stringify(message('bob@example.com', 2))})))
        .then((second) => console.log(second.response));
      `,
    );
    // No close(): the process must end on its own once the reply is in (or is killed after 15 s, and fails).
    const outcome = await runToExit(process.execPath, [script], { timeout: 15_000 });
    expect(outcome).toMatchObject({ code: 0, stderr: '' });
    expect(outcome.stdout).toMatch(/^250 .*\n250 /);
    expect(smtp.messages).toHaveLength(2);
  });
});
