import { PermanentJobError } from '@jobfleet/worker-runtime';
import type { SmtpErrorClass } from './metrics.js';
import type { NodemailerErrorField } from './nodemailer-error.js';

/** What nodemailer attaches to the errors it hands back (see nodemailer's `NodemailerError`). */
type NodemailerErrorFields = { message?: unknown } & { [field in NodemailerErrorField]?: unknown };

/** One failed SMTP delivery, classified. */
export interface SmtpFailure {
  class: SmtpErrorClass;
  /** Retrying the same message cannot help: the job fails at once. */
  permanent: boolean;
  /** The SMTP reply code, when the server answered. */
  responseCode?: number | undefined;
  /** The command the server answered, e.g. `RCPT TO` or `DATA`. */
  command?: string | undefined;
  /** One line saying what happened, with the server's reply when there was one. */
  detail: string;
}

const CONNECTION_CODES = new Set(['ECONNECTION', 'ESOCKET', 'EDNS', 'EPROXY']);
/** Node's codes for a failed TLS handshake or certificate check, which nodemailer reports as `ESOCKET`. */
const TLS_SOCKET_CODES = /CERT|SELF_SIGNED|UNABLE_TO_(?:VERIFY|GET_ISSUER)|SSL|TLS|^EPROTO$/;
const REPLY_LIMIT = 500;

const text = (value: unknown) => (typeof value === 'string' ? value : undefined);

/** The reply on one line, shortened: multi-line replies join with ` / `. */
function oneLine(reply: string): string {
  const line = reply
    .split(/\r?\n/)
    .map((part) => part.trim())
    .filter(Boolean)
    .join(' / ');
  return line.length > REPLY_LIMIT ? `${line.slice(0, REPLY_LIMIT - 1)}…` : line;
}

/**
 * Classifies what nodemailer reported. A failed TLS upgrade is `tls` whatever
 * the server replied (it is about the connection, not the message). Otherwise
 * a reply code decides: 5xx is permanent (except 503, a session-state error
 * nodemailer also retries), 4xx temporary. Without a reply, the error code
 * tells a timeout or a broken connection apart; all of those are temporary.
 */
export function classifySmtpError(error: unknown): SmtpFailure {
  const fields = (typeof error === 'object' && error !== null ? error : {}) as NodemailerErrorFields;
  const code = text(fields.code);
  const command = text(fields.command);
  const responseCode = typeof fields.responseCode === 'number' ? fields.responseCode : undefined;
  const response = text(fields.response);
  const at = command && command !== 'CONN' && command !== 'API' ? ` to ${command}` : '';

  // A failed TLS upgrade is about the connection, not the message, even when a reply came with it
  // (a server answering STARTTLS with 5xx): retried like a connection failure.
  const original = text(fields.originalCode);
  if (
    code === 'ETLS' ||
    code === 'EREQUIRETLS' ||
    (original !== undefined && TLS_SOCKET_CODES.test(original))
  ) {
    const what = response
      ? `server replied ${oneLine(response)}`
      : oneLine(text(fields.message) ?? String(error));
    const why = original ? ` (${original})` : '';
    return {
      class: 'tls',
      permanent: false,
      responseCode,
      command,
      detail: `SMTP TLS failure${why}${at}: ${what}`,
    };
  }
  if (responseCode !== undefined && responseCode >= 400 && responseCode < 600) {
    const permanent =
      typeof fields.permanent === 'boolean' ? fields.permanent : responseCode >= 500 && responseCode !== 503;
    return {
      class: responseCode >= 500 ? 'reply_5xx' : 'reply_4xx',
      permanent,
      responseCode,
      command,
      detail: `SMTP server replied ${oneLine(response ?? String(responseCode))}${at}`,
    };
  }
  const message = oneLine(text(fields.message) ?? String(error));
  if (code === 'ETIMEDOUT') {
    const which = text(fields.timeoutType)?.toLowerCase().replace(/_/g, ' ') ?? 'timeout';
    return { class: 'timeout', permanent: false, command, detail: `SMTP ${which}${at}: ${message}` };
  }
  if (code !== undefined && CONNECTION_CODES.has(code)) {
    return {
      class: 'connection',
      permanent: false,
      command,
      detail: `SMTP connection failure${original ? ` (${original})` : ''}${at}: ${message}`,
    };
  }
  return {
    class: 'other',
    permanent: false,
    command,
    detail: `SMTP failure${code ? ` (${code})` : ''}: ${message}`,
  };
}

/** Replaces the recipient's address in server text, which goes to logs (never personal data there). */
export function redactRecipient(detail: string, recipient: string): string {
  if (!recipient) return detail;
  const escaped = recipient.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return detail.replace(new RegExp(escaped, 'gi'), '[recipient]');
}

/** The fields both SMTP error classes carry, for logs and tests. */
export interface SmtpErrorDetails {
  readonly smtpClass: SmtpErrorClass;
  readonly responseCode: number | undefined;
  readonly command: string | undefined;
}

/** A delivery that may succeed later (4xx, connection, timeout, …): the job is retried with its backoff. */
export class SmtpDeliveryError extends Error implements SmtpErrorDetails {
  override name = 'SmtpDeliveryError';
  readonly smtpClass: SmtpErrorClass;
  readonly responseCode: number | undefined;
  readonly command: string | undefined;
  readonly permanent = false;
  constructor(failure: SmtpFailure, message: string) {
    super(message);
    this.smtpClass = failure.class;
    this.responseCode = failure.responseCode;
    this.command = failure.command;
  }
}

/**
 * The server refused the message for good (5xx): the job fails at once,
 * without retries, and its dead-letter record's reason is this message, which
 * carries the server's reply.
 */
export class PermanentSmtpError extends PermanentJobError implements SmtpErrorDetails {
  override name = 'PermanentSmtpError';
  readonly smtpClass: SmtpErrorClass;
  readonly responseCode: number | undefined;
  readonly command: string | undefined;
  readonly permanent = true;
  constructor(failure: SmtpFailure, message: string) {
    super(message);
    this.smtpClass = failure.class;
    this.responseCode = failure.responseCode;
    this.command = failure.command;
  }
}

/** The error a handler throws for a classified failure; the recipient's address is kept out of it. */
export function smtpError(failure: SmtpFailure, recipient: string): SmtpDeliveryError | PermanentSmtpError {
  const message = redactRecipient(failure.detail, recipient);
  return failure.permanent
    ? new PermanentSmtpError(failure, message)
    : new SmtpDeliveryError(failure, message);
}

/** Whether an error came from the SMTP transport's classification. */
export function isSmtpError(error: unknown): error is SmtpDeliveryError | PermanentSmtpError {
  return error instanceof SmtpDeliveryError || error instanceof PermanentSmtpError;
}
