import { createHash, randomUUID } from 'node:crypto';
import { constants } from 'node:fs';
import { access, mkdir, open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { ReadinessCheck } from '@jobfleet/service-kit';
import nodemailer from 'nodemailer';
import { classifySmtpError, smtpError } from './smtp-errors.js';
import { type MailTransport, type OutgoingMessage, type SendOptions, toMailOptions } from './transport.js';

export interface OutboxOptions {
  /** Absolute directory the `.eml` files go to; created when missing. */
  dir: string;
}

/** The development transport: every message becomes one RFC 5322 `.eml` file. */
export interface OutboxTransport extends MailTransport {
  readonly kind: 'outbox';
  readonly dir: string;
  /** `/health/ready` fails while the directory cannot be created or written. */
  readonly readiness: ReadinessCheck;
  /** The file a message with this Message-ID is written to. */
  fileOf(messageId: string): string;
}

/**
 * Reserved domains (RFC 2606: `.invalid` never resolves) at which the outbox
 * fails as an SMTP server would, so a development fleet can show retries and
 * dead letters: `reject.invalid` refuses every recipient for good (550, the job
 * is dead-lettered at once), `tempfail.invalid` defers every one (451, the job
 * is retried until its attempts run out, then dead-lettered). The replies go
 * through the SMTP path's own classification, so the errors, logs and
 * dead-letter reasons are the ones a real server's reply would give.
 */
export const OUTBOX_FAILURE_REPLIES: ReadonlyMap<string, { responseCode: number; response: string }> =
  new Map([
    [
      'reject.invalid',
      {
        responseCode: 550,
        response: '550 5.1.1 Recipient address rejected: reject.invalid refuses every message',
      },
    ],
    [
      'tempfail.invalid',
      { responseCode: 451, response: '451 4.3.0 Recipient deferred: tempfail.invalid defers every message' },
    ],
  ]);

/** The reply a failure domain gives `to`, when it is at one (case-insensitively). */
const failureReplyFor = (to: string) =>
  OUTBOX_FAILURE_REPLIES.get(to.slice(to.lastIndexOf('@') + 1).toLowerCase());

/** Longest file name kept readable; room is left for the temporary name's suffix. */
const READABLE_NAME = /^[A-Za-z0-9][A-Za-z0-9._=@-]{0,199}$/;

/**
 * The file name of a Message-ID: the id without its angle brackets, when that is
 * a short, plain name (our own ids always are); otherwise a hash of it. Either
 * way one Message-ID has one file, so a rerun overwrites instead of duplicating.
 */
export function outboxFileName(messageId: string): string {
  const bare = messageId.replace(/^<|>$/g, '');
  if (READABLE_NAME.test(bare)) return `${bare}.eml`;
  return `message-${createHash('sha256').update(messageId).digest('hex').slice(0, 40)}.eml`;
}

/**
 * Writes `data` to `file` atomically: a temporary file in the same directory,
 * flushed to disk, then renamed over `file`. A reader (or a crash) sees the old
 * file or the whole new one, never a part; temporary names start with `.` and
 * end in `.tmp`, so they are never taken for a message.
 */
async function writeFileAtomic(file: string, data: Buffer): Promise<void> {
  const temporary = join(dirname(file), `.${basename(file)}.${randomUUID()}.tmp`);
  try {
    const handle = await open(temporary, 'wx', 0o640);
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temporary, file);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
}

/**
 * Delivery into a directory: nodemailer's stream transport builds the message
 * (multipart/alternative, text and HTML), which is written as
 * `<dir>/<Message-ID>.eml`. A recipient at one of the
 * {@link OUTBOX_FAILURE_REPLIES} domains is refused as `RCPT TO` would refuse
 * it, and nothing is written.
 */
export function createOutboxTransport({ dir }: OutboxOptions): OutboxTransport {
  const composer = nodemailer.createTransport({ streamTransport: true, buffer: true });
  const fileOf = (messageId: string) => join(dir, outboxFileName(messageId));

  async function send(message: OutgoingMessage, options: SendOptions = {}) {
    options.cancellation?.throwIfAborted();
    const refusal = failureReplyFor(message.to);
    if (refusal) throw smtpError(classifySmtpError({ ...refusal, command: 'RCPT TO' }), message.to);
    const info = await composer.sendMail(toMailOptions(message));
    if (!Buffer.isBuffer(info.message)) throw new Error('the stream transport returned no message buffer');
    options.cancellation?.throwIfAborted();
    await mkdir(dir, { recursive: true });
    await writeFileAtomic(fileOf(info.messageId), info.message);
    return { messageId: info.messageId };
  }

  const readiness: ReadinessCheck = {
    name: 'outbox',
    async check() {
      try {
        await mkdir(dir, { recursive: true });
        await access(dir, constants.W_OK);
        return { ok: true };
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
        return { ok: false, reason: `outbox directory ${dir} is not writable (${code})` };
      }
    },
  };

  return {
    kind: 'outbox',
    dir,
    readiness,
    fileOf,
    send,
    async close() {
      composer.close();
    },
  };
}
