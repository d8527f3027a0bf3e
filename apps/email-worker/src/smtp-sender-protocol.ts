import type { SendMailOptions } from 'nodemailer';
import type SMTPPool from 'nodemailer/lib/smtp-pool/index.js';
import { NODEMAILER_ERROR_FIELDS, type NodemailerErrorField } from './nodemailer-error.js';

/** nodemailer's pool settings: plain data, so they cross to the sender thread as they are. */
export type SmtpPoolOptions = SMTPPool.Options;

/**
 * What nodemailer attached to an error (see `classifySmtpError`), copied field
 * by field: an Error sent to another thread keeps its name, message and stack
 * but none of nodemailer's own fields.
 */
export type SmtpErrorFields = { message: string } & {
  [field in NodemailerErrorField]?: string | number | boolean;
};

/** From the worker's main thread to the sender thread. */
export type SenderRequest =
  | { type: 'send'; id: number; mail: SendMailOptions }
  | { type: 'verify'; id: number }
  /** Not forced: hand out no more messages, let those on a connection finish. Forced: drop every connection. */
  | { type: 'close'; force: boolean };

/** From the sender thread back; `id` names the request answered (`verify` is answered `done` too). */
export type SenderReply =
  | { type: 'done'; id: number; messageId: string; response: string | undefined }
  | { type: 'failed'; id: number; error: SmtpErrorFields };

export function errorFields(error: unknown): SmtpErrorFields {
  const source = (typeof error === 'object' && error !== null ? error : {}) as Record<string, unknown>;
  const fields: SmtpErrorFields = {
    message: typeof source.message === 'string' ? source.message : String(error),
  };
  for (const name of NODEMAILER_ERROR_FIELDS) {
    const value = source[name];
    if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean')
      fields[name] = value;
  }
  return fields;
}
