import { EventEmitter, once } from 'node:events';
import { type AddressInfo, connect, type Socket } from 'node:net';
import nodemailer from 'nodemailer';
import { afterEach, describe, expect, it } from 'vitest';
import { createSmtpSink } from '../src/smtp-sink.js';

let close: (() => Promise<void>) | undefined;
afterEach(async () => {
  await close?.();
  close = undefined;
});

async function startSink(replyDelayMs = 0) {
  const counted = { messages: 0 };
  const server = createSmtpSink({
    replyDelayMs: () => replyDelayMs,
    onMessage: () => {
      counted.messages += 1;
    },
  });
  const sockets = new Set<Socket>();
  // What the sink's side of each connection reads (it reads first: its listener was added first).
  const reads = new EventEmitter<{ read: [string] }>();
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('data', (chunk: string) => reads.emit('read', chunk));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  close = async () => {
    server.close();
    for (const socket of sockets) socket.destroy();
    await once(server, 'close');
  };
  /** Resolves once the sink has read a chunk that `matches`. */
  const read = (matches: (chunk: string) => boolean) =>
    new Promise<void>((resolve) => {
      const listener = (chunk: string) => {
        if (!matches(chunk)) return;
        reads.off('read', listener);
        resolve();
      };
      reads.on('read', listener);
    });
  return { port: (server.address() as AddressInfo).port, counted, read };
}

/** A raw session: `until(test)` resolves with the replies so far once `test` accepts them. */
function session(port: number) {
  const socket = connect(port, '127.0.0.1');
  socket.setEncoding('latin1');
  let received = '';
  const waiters: Array<{ until: (text: string) => boolean; resolve: (text: string) => void }> = [];
  const check = () => {
    for (const waiter of [...waiters]) {
      if (waiter.until(received)) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(received);
      }
    }
  };
  socket.on('data', (chunk: string) => {
    received += chunk;
    check();
  });
  return {
    socket,
    write: (text: string) => socket.write(text),
    until: (until: (text: string) => boolean) =>
      new Promise<string>((resolve) => {
        waiters.push({ until, resolve });
        check();
      }),
  };
}

describe('the benchmark SMTP sink', () => {
  it('takes every message of a nodemailer pool that replaces its connections, dot-stuffed lines and large bodies included', async () => {
    const sink = await startSink();
    const transporter = nodemailer.createTransport({
      pool: true,
      host: '127.0.0.1',
      port: sink.port,
      maxConnections: 2,
      maxMessages: 3,
    });
    try {
      const bodies = [
        'hello',
        '.a line that starts with a dot\r\n.\r\n..two dots',
        'x'.repeat(200_000),
        '',
        'last',
      ];
      const infos = await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          transporter.sendMail({
            from: 'a@example.com',
            to: `user-${i}@example.com`,
            subject: `message ${i}`,
            text: bodies[i % bodies.length],
          }),
        ),
      );
      expect(infos.map((info) => info.response)).toEqual(Array(10).fill('250 OK: message queued'));
      expect(sink.counted.messages).toBe(10);
    } finally {
      transporter.close();
    }
  });

  it('greets a new connection without a pause: a client that talks first is answered, not refused', async () => {
    const sink = await startSink();
    const client = session(sink.port);
    // smtp-server answers this with 421 ("You talk too soon"): it holds its greeting back for 100 ms.
    client.write('EHLO client.example\r\n');
    const replies = await client.until((text) => text.includes('250 SMTPUTF8\r\n'));
    expect(replies).toBe(
      '220 jobfleet-sink ESMTP\r\n250-jobfleet-sink\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n',
    );
    client.socket.destroy();
  });

  it('answers pipelined commands in order, holding later replies behind a delayed acceptance, and ends the session on QUIT', async () => {
    const sink = await startSink(20);
    const client = session(sink.port);
    await client.until((text) => text.startsWith('220 '));
    client.write('EHLO c\r\nMAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\nDATA\r\n');
    await client.until((text) => text.includes('354 '));
    // The end of data cut across two reads, then the next commands in the same read as its last part.
    const firstPart = sink.read((chunk) => chunk.endsWith('body\r'));
    client.write('Subject: s\r\n\r\nbody\r');
    await firstPart;
    client.write('\n.\r\nRSET\r\nNOOP\r\nBOGUS\r\nQUIT\r\n');
    await once(client.socket, 'end');
    const replies = await client.until(() => true);
    expect(replies.split('\r\n').filter(Boolean)).toEqual([
      '220 jobfleet-sink ESMTP',
      '250-jobfleet-sink',
      '250-PIPELINING',
      '250-8BITMIME',
      '250 SMTPUTF8',
      '250 OK',
      '250 OK',
      '354 End data with <CR><LF>.<CR><LF>',
      '250 OK: message queued',
      '250 OK',
      '250 OK',
      '502 Command not implemented',
      '221 Bye',
    ]);
    expect(sink.counted.messages).toBe(1);
  });
});
