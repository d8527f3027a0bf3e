import { bindHistogram, type ReadinessCheck, type ReadinessResult } from '@jobfleet/service-kit';
import { ShuttingDownError } from '@jobfleet/worker-runtime';
import type { EmailMetrics } from './metrics.js';
import { describeSmtpEndpoint, type SmtpEndpoint } from './smtp-endpoint.js';
import { classifySmtpError, smtpError } from './smtp-errors.js';
import { createSmtpSender } from './smtp-sender.js';
import {
  type MailTransport,
  type OutgoingMessage,
  type SendOptions,
  type SendResult,
  toMailOptions,
} from './transport.js';

/** `auto`: upgrade when the server offers STARTTLS; `required`: never send in clear text; `off`: never upgrade. */
export type StartTlsMode = 'auto' | 'required' | 'off';

export interface SmtpTransportOptions {
  endpoint: SmtpEndpoint;
  /** Ignored for `smtps://`, which is TLS from the first byte. */
  starttls?: StartTlsMode;
  tls?: {
    /** Verify the server's certificate (default true). */
    rejectUnauthorized?: boolean;
    /** Extra CA certificates (PEM) to trust. */
    ca?: string | undefined;
  };
  /** The EHLO name; the machine's host name when unset. */
  ehloName?: string | undefined;
  /** Pool size (default 5). */
  maxConnections?: number;
  /** Messages per connection before it is replaced (default 100). */
  maxMessages?: number;
  connectionTimeoutMs?: number;
  greetingTimeoutMs?: number;
  socketTimeoutMs?: number;
  metrics?: EmailMetrics;
  /** How long a readiness verdict is reused before the server is asked again (default 15 s). */
  readinessTtlMs?: number;
  /** The sender thread's module; default: the built one beside this file. Tests from `src/` pass the built one. */
  senderModule?: URL;
}

/** Production delivery: SMTP through a nodemailer connection pool in a worker thread. */
export interface SmtpTransport extends MailTransport {
  readonly kind: 'smtp';
  /** The server as a URL without its password, for logs. */
  readonly url: string;
  /** `/health/ready`: the server answers and accepts the credentials (checked at most every 15 s). */
  readonly readiness: ReadinessCheck;
  /** Messages handed to the pool whose reply has not come yet (queued or being sent). */
  pending(): number;
}

/** What nodemailer's pool answers for a message it never put on a connection because it was closed. */
const POOL_CLOSED = 'Connection pool was closed';

/**
 * Delivers over SMTP through a pool of `maxConnections` connections, each
 * reused for up to `maxMessages` messages, run in a thread of its own
 * ({@link createSmtpSender}): nodemailer's MIME composing and writing take
 * another core, not the event loop BullMQ renews its locks on. Failures are
 * classified (see `SMTP_ERROR_CLASSES`) and counted; a 5xx reply becomes a
 * `PermanentSmtpError`, anything else an `SmtpDeliveryError` the job is
 * retried for.
 *
 * nodemailer's own re-sending of a message whose connection dropped is turned
 * off (`maxRequeues: 0`): every retry goes through the job's backoff and the
 * delivery ledger, so it is counted, logged and never hidden.
 *
 * Shutdown (`drain()` at the shutdown deadline, then `close()`) never
 * duplicates a message: from `drain()` on, no message is handed to a
 * connection any more (those still waiting for one, and any sent later, fail
 * with `ShuttingDownError`, and their jobs go back to wait), while the
 * messages already on a connection get their reply; `close()` waits for
 * those replies, at most the socket timeout, before it closes the connections.
 */
export function createSmtpTransport(options: SmtpTransportOptions): SmtpTransport {
  const { endpoint, starttls = 'auto', metrics, readinessTtlMs = 15_000 } = options;
  const sender = createSmtpSender(
    {
      pool: true,
      host: endpoint.host,
      port: endpoint.port,
      secure: endpoint.secure,
      auth: endpoint.auth ? { user: endpoint.auth.user, pass: endpoint.auth.pass } : undefined,
      requireTLS: !endpoint.secure && starttls === 'required',
      ignoreTLS: !endpoint.secure && starttls === 'off',
      tls: {
        rejectUnauthorized: options.tls?.rejectUnauthorized ?? true,
        ...(options.tls?.ca ? { ca: options.tls.ca } : {}),
      },
      name: options.ehloName,
      maxConnections: options.maxConnections ?? 5,
      maxMessages: options.maxMessages ?? 100,
      maxRequeues: 0,
      connectionTimeout: options.connectionTimeoutMs ?? 10_000,
      greetingTimeout: options.greetingTimeoutMs ?? 10_000,
      socketTimeout: options.socketTimeoutMs ?? 60_000,
      logger: false,
    },
    options.senderModule,
  );
  const url = describeSmtpEndpoint(endpoint);
  const accepted = metrics && bindHistogram(metrics.smtpSendDuration, { outcome: 'accepted' });
  const failed = metrics && bindHistogram(metrics.smtpSendDuration, { outcome: 'failed' });

  const socketTimeoutMs = options.socketTimeoutMs ?? 60_000;
  let verdict: { at: number; result: ReadinessResult } | undefined;
  let verifying: Promise<ReadinessResult> | undefined;
  let draining = false;
  const inFlight = new Set<Promise<unknown>>();
  const drain = () => {
    if (draining) return;
    draining = true;
    // Not forced: the pool stops assigning messages, closes idle connections and fails the
    // queued messages at once; a connection in the middle of a message finishes it first.
    sender.close({ force: false });
  };

  async function send(message: OutgoingMessage, sendOptions: SendOptions = {}): Promise<SendResult> {
    // A job cancelled before this point sends nothing. Past it, the message is nodemailer's: it
    // may wait in the pool's queue for a connection and then goes out whatever happens to the
    // job, because a message cannot be taken back once sent. (Waiting for a free connection
    // here instead, where a cancel could still stop it, cost a tenth of the throughput: the
    // pool's own queue hands a connection its next message without a turn of the event loop.)
    sendOptions.cancellation?.throwIfAborted();
    if (draining) throw new ShuttingDownError('the worker is shutting down; the message was not sent');
    const started = performance.now();
    const sending = sender.sendMail(toMailOptions(message));
    inFlight.add(sending);
    void sending.then(
      () => inFlight.delete(sending),
      () => inFlight.delete(sending),
    );
    try {
      const info = await sending;
      accepted?.observe((performance.now() - started) / 1000);
      verdict = { at: Date.now(), result: { ok: true } };
      return { messageId: info.messageId, response: info.response };
    } catch (error) {
      if (draining && error instanceof Error && error.message === POOL_CLOSED) {
        // It waited in the pool's queue when the pool was closed: never sent.
        throw new ShuttingDownError('the worker is shutting down; the message was not sent');
      }
      failed?.observe((performance.now() - started) / 1000);
      const failure = classifySmtpError(error);
      metrics?.smtpErrors.labels({ class: failure.class }).inc();
      throw smtpError(failure, message.to);
    }
  }

  const readiness: ReadinessCheck = {
    name: 'smtp',
    async check() {
      if (verdict && Date.now() - verdict.at < readinessTtlMs) return verdict.result;
      verifying ??= sender
        .verify()
        .then(
          (): ReadinessResult => ({ ok: true }),
          (error: unknown): ReadinessResult => {
            const failure = classifySmtpError(error);
            return { ok: false, reason: `${url}: ${failure.detail}` };
          },
        )
        .then((result) => {
          verdict = { at: Date.now(), result };
          verifying = undefined;
          return result;
        });
      return verifying;
    },
  };

  return {
    kind: 'smtp',
    url,
    readiness,
    send,
    pending: () => inFlight.size,
    drain,
    async close() {
      drain();
      if (inFlight.size > 0) {
        // The replies to messages already sent; a server silent for longer fails them anyway.
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([
          Promise.allSettled([...inFlight]),
          new Promise((resolve) => {
            timer = setTimeout(resolve, socketTimeoutMs);
          }),
        ]);
        clearTimeout(timer);
      }
      // Whatever is left has outlived the socket timeout.
      sender.close({ force: true });
      await sender.terminate();
    },
  };
}
