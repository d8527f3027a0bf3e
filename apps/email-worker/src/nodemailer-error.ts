/**
 * What nodemailer attaches to the errors it hands back besides `message` (see
 * nodemailer's `NodemailerError`): all that `classifySmtpError` reads. A module
 * of its own, so the SMTP sender thread can import it without the rest of the
 * worker.
 */
export const NODEMAILER_ERROR_FIELDS = [
  'code',
  'originalCode',
  'response',
  'responseCode',
  'permanent',
  'command',
  'timeoutType',
] as const;

export type NodemailerErrorField = (typeof NODEMAILER_ERROR_FIELDS)[number];
