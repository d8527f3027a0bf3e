import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { SMTPServer, type SMTPServerDataStream, type SMTPServerSession } from 'smtp-server';

const FIXTURES = new URL('./fixtures/', import.meta.url);
/** A self-signed certificate for localhost and 127.0.0.1 (test only). */
export const TEST_CERT = readFileSync(new URL('localhost-cert.pem', FIXTURES), 'utf8');
export const TEST_CERT_FILE = new URL('localhost-cert.pem', FIXTURES).pathname;
const TEST_KEY = readFileSync(new URL('localhost-key.pem', FIXTURES), 'utf8');

/**
 * What the server does with one mail transaction (MAIL FROM … DATA):
 * - `accept`: `250` after the message.
 * - `{ reply, message, at }`: answer `reply` to RCPT TO or to the end of DATA.
 * - `{ hang: true }`: read the message, then never answer (a slow server).
 * - `{ drop: 'rcpt' | 'data' }`: close the connection instead of answering.
 */
export type Step =
  | 'accept'
  | { reply: number; message: string; at?: 'rcpt' | 'data' }
  | { hang: true }
  | { drop: 'rcpt' | 'data' };

export interface ReceivedMessage {
  raw: Buffer;
  /** The Message-ID header, with angle brackets. */
  messageId: string | undefined;
  mailFrom: string;
  rcptTo: string[];
  secure: boolean;
  user: string | undefined;
}

export interface TestSmtpServerOptions {
  /** Implicit TLS (`smtps://`) with the test certificate. */
  secure?: boolean;
  /** Offer STARTTLS with the test certificate (default: not offered). */
  starttls?: boolean;
  /** Require these credentials (default: no authentication). */
  auth?: { user: string; pass: string };
  /** Runs right before the server answers `250` to a message; the reply waits for it. */
  beforeAccept?: (message: ReceivedMessage) => void | Promise<void>;
}

export interface TestSmtpServer {
  readonly port: number;
  /** `smtp://127.0.0.1:<port>` (or `smtps://`), without credentials. */
  readonly url: string;
  /** Every accepted message, in order. */
  readonly messages: ReceivedMessage[];
  /** When each transaction began (its RCPT TO), whatever its fate. */
  readonly transactions: number[];
  /** Connections so far, and the most open at once. */
  readonly connections: { total: number; open: number; maxOpen: number };
  /** Scripts the next transactions, one step each; after the last step, every transaction is accepted. */
  script(...steps: Step[]): void;
  close(): Promise<void>;
}

// Long header lines are folded, so the id may start on the next line.
const MESSAGE_ID = /^message-id:\s*(<[^>\s]*>)/im;

function replyError(code: number, message: string): Error & { responseCode: number } {
  return Object.assign(new Error(message), { responseCode: code });
}

/** A real SMTP server (the `smtp-server` package) on a free port of 127.0.0.1, scripted per test. */
export async function startTestSmtpServer(options: TestSmtpServerOptions = {}): Promise<TestSmtpServer> {
  const messages: ReceivedMessage[] = [];
  const transactions: number[] = [];
  const connections = { total: 0, open: 0, maxOpen: 0 };
  const steps: Step[] = [];
  const stepOf = new WeakMap<SMTPServerSession, Step>();
  const hanging = new Map<string, () => void>();
  /** Closes the connection of a session without an answer (a dropped connection). */
  const drop = (session: SMTPServerSession) => {
    for (const connection of server.connections) {
      if (connection.session === session) connection._socket.destroy();
    }
  };

  const server = new SMTPServer({
    secure: options.secure ?? false,
    key: TEST_KEY,
    cert: TEST_CERT,
    logger: false,
    disableReverseLookup: true,
    disabledCommands: [
      ...(options.starttls || options.secure ? [] : ['STARTTLS']),
      ...(options.auth ? [] : ['AUTH']),
    ],
    authOptional: !options.auth,
    allowInsecureAuth: true,
    onConnect(_session, callback) {
      connections.total += 1;
      connections.open += 1;
      connections.maxOpen = Math.max(connections.maxOpen, connections.open);
      callback();
    },
    onClose(session) {
      connections.open -= 1;
      hanging.get(session.id)?.();
      hanging.delete(session.id);
    },
    onAuth(auth, _session, callback) {
      if (auth.username === options.auth?.user && auth.password === options.auth?.pass) {
        callback(null, { user: auth.username });
      } else {
        callback(replyError(535, '5.7.8 Authentication credentials invalid'));
      }
    },
    onRcptTo(_address, session, callback) {
      transactions.push(Date.now());
      const step = steps.shift() ?? 'accept';
      stepOf.set(session, step);
      if (typeof step === 'object' && 'reply' in step && step.at === 'rcpt') {
        callback(replyError(step.reply, step.message));
      } else if (typeof step === 'object' && 'drop' in step && step.drop === 'rcpt') {
        drop(session);
      } else {
        callback();
      }
    },
    onData(stream: SMTPServerDataStream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        const step = stepOf.get(session) ?? 'accept';
        if (typeof step === 'object' && 'hang' in step) {
          hanging.set(session.id, () => callback(new Error('the client went away')));
          return;
        }
        if (typeof step === 'object' && 'drop' in step) {
          drop(session);
          return;
        }
        if (typeof step === 'object' && 'reply' in step) {
          callback(replyError(step.reply, step.message));
          return;
        }
        const raw = Buffer.concat(chunks);
        const message: ReceivedMessage = {
          raw,
          messageId: MESSAGE_ID.exec(raw.subarray(0, 8_192).toString('latin1'))?.[1],
          mailFrom: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          rcptTo: session.envelope.rcptTo.map((rcpt) => rcpt.address),
          secure: session.secure,
          user: typeof session.user === 'string' ? session.user : undefined,
        };
        void Promise.resolve(options.beforeAccept?.(message)).then(() => {
          messages.push(message);
          callback(null, 'OK: queued');
        });
      });
    },
  });
  server.on('error', () => {});

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.server.address() as AddressInfo).port;

  return {
    port,
    url: `${options.secure ? 'smtps' : 'smtp'}://127.0.0.1:${port}`,
    messages,
    transactions,
    connections,
    script: (...next) => void steps.push(...next),
    close: () =>
      new Promise<void>((resolve) => {
        for (const release of hanging.values()) release();
        server.close(() => resolve());
      }),
  };
}
