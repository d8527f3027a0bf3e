import type { emails, JobResult } from '@jobfleet/queue-contracts';
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

export interface SendOptions {
  /** Aborted when the job is cancelled. */
  signal?: AbortSignal;
}

/**
 * Where messages go. Handlers know only this, so a file outbox (development)
 * and SMTP (production) are interchangeable.
 */
export interface MailTransport {
  readonly kind: TransportKind;
  /** Delivers one message; resolves with the Message-ID it was delivered under. */
  send(message: OutgoingMessage, options?: SendOptions): Promise<{ messageId: string }>;
  /** Releases connections or handles; the worker calls it after the last job. */
  close(): Promise<void>;
}
