import type { emails, JobResult } from '@jobfleet/queue-contracts';
import type { SendMailOptions } from 'nodemailer';
import type { Mailbox } from './mailbox.js';

/** Which delivery path a message took; the job result reports it. */
export type TransportKind = JobResult<typeof emails, 'welcome'>['transport'];

/** One message, rendered and addressed. */
export interface OutgoingMessage {
  /** With angle brackets, e.g. `<emails.42.1732800000000@example.com>`; the same on every attempt. */
  messageId: string;
  from: Mailbox;
  to: string;
  /** One line; callers strip CR and LF. */
  subject: string;
  text: string;
  html: string;
  /** Extra header fields. */
  headers?: Readonly<Record<string, string>>;
}

/** `message` as nodemailer's mail options; both transports build the message through nodemailer. */
export function toMailOptions(message: OutgoingMessage): SendMailOptions {
  return {
    from: { name: message.from.name, address: message.from.address },
    to: message.to,
    subject: message.subject,
    text: message.text,
    html: message.html,
    messageId: message.messageId,
    headers: { ...message.headers },
  };
}

/** What a transport reports about a delivered message. */
export interface SendResult {
  /** The Message-ID the message was delivered under. */
  messageId: string;
  /** The server's final reply (SMTP), e.g. `250 2.0.0 Ok: queued as 4F2A1`. */
  response?: string | undefined;
}

export interface SendOptions {
  /**
   * The job's cancellation, checked right before the message is handed over:
   * the job's context (`JobContext.throwIfAborted` makes no signal) or an
   * `AbortSignal`.
   */
  cancellation?: { throwIfAborted(): void };
}

/**
 * Where messages go. Handlers know only this, so a file outbox (development)
 * and SMTP (production) are interchangeable. A transport throws
 * `PermanentJobError` for a failure no retry can fix, any other error for one
 * that may pass.
 */
export interface MailTransport {
  readonly kind: TransportKind;
  /** Delivers one message; resolves once it is delivered (an SMTP server accepted it). */
  send(message: OutgoingMessage, options?: SendOptions): Promise<SendResult>;
  /**
   * The shutdown deadline has come: hand nothing more to the server (`send`
   * then throws `ShuttingDownError`, and the job goes back to wait), but let
   * what was handed over finish.
   */
  drain?(): void;
  /** Releases connections or handles; the worker calls it after the last job. */
  close(): Promise<void>;
}
