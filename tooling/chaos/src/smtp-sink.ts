import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { SMTPServer } from 'smtp-server';

export interface Delivery {
  readonly to: string;
  readonly at: number;
  readonly connectedAt: number;
  readonly messageId: string | undefined;
}

/** Where the suite counts side effects: one message per accepted job, told apart by its recipient. */
export interface SmtpSink {
  /** `smtp://127.0.0.1:<port>`. */
  readonly url: string;
  /** Messages accepted (`250` sent) per recipient address. */
  readonly received: Map<string, number>;
  /** When each message was accepted (ms, `performance.now()`), in order. */
  readonly acceptedAt: number[];
  /** Every accepted message: recipient, when, and when its connection was opened. */
  readonly deliveries: Delivery[];
  /** Transactions (RCPT TO) begun, whatever their fate. */
  transactions(): number;
  /** How long the server sits on each message before its `250` (a slow server); 0 answers at once. */
  setReplyDelay(ms: number): void;
  close(): Promise<void>;
}

/** A real SMTP server (the `smtp-server` package) on a free port of 127.0.0.1 that accepts every message. */
export async function startSmtpSink(): Promise<SmtpSink> {
  const received = new Map<string, number>();
  const acceptedAt: number[] = [];
  const deliveries: Delivery[] = [];
  const connectedAt = new Map<string, number>();
  let transactions = 0;
  let replyDelayMs = 0;
  const server = new SMTPServer({
    logger: false,
    disableReverseLookup: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    authOptional: true,
    // Many workers' pools at once, across restarts.
    maxClients: 1_000,
    onConnect(session, callback) {
      connectedAt.set(session.id, performance.now());
      callback();
    },
    onRcptTo(_address, _session, callback) {
      transactions += 1;
      callback();
    },
    onData(stream, session, callback) {
      let head = '';
      stream.on('data', (chunk: Buffer) => {
        if (head.length < 4_096) head += chunk.toString('latin1');
      });
      stream.on('end', () => {
        void sleep(replyDelayMs).then(() => {
          // Counted when the server says 250: a message the server took is a side effect, whatever the worker knows.
          for (const rcpt of session.envelope.rcptTo) {
            received.set(rcpt.address, (received.get(rcpt.address) ?? 0) + 1);
          }
          const at = performance.now();
          acceptedAt.push(at);
          const messageId = /^message-id:\s*(<[^>\s]*>)/im.exec(head)?.[1];
          for (const rcpt of session.envelope.rcptTo) {
            deliveries.push({
              to: rcpt.address,
              at,
              connectedAt: connectedAt.get(session.id) ?? 0,
              messageId,
            });
          }
          callback();
        });
      });
    },
  });
  server.on('error', () => {});
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.server.address() as AddressInfo;
  return {
    url: `smtp://127.0.0.1:${port}`,
    received,
    acceptedAt,
    deliveries,
    transactions: () => transactions,
    setReplyDelay(ms) {
      replyDelayMs = ms;
    },
    close: () =>
      new Promise<void>((resolve) => {
        // Connections a killed worker left open would hold close() up.
        for (const connection of (server as unknown as { connections: Set<{ _socket: { destroy(): void } }> })
          .connections) {
          connection._socket.destroy();
        }
        server.close(() => resolve());
      }),
  };
}
