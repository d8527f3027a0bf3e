import { Worker } from 'node:worker_threads';
import type { SendMailOptions } from 'nodemailer';
import type { SenderReply, SenderRequest, SmtpErrorFields, SmtpPoolOptions } from './smtp-sender-protocol.js';

/** The built sender thread's module, beside this one in `dist/`. */
export const DEFAULT_SENDER_MODULE = new URL('./smtp-sender-entry.js', import.meta.url);

/** The part of nodemailer's pooled transport the SMTP transport uses, run in a thread of its own. */
export interface SmtpSender {
  sendMail(mail: SendMailOptions): Promise<{ messageId: string; response: string | undefined }>;
  verify(): Promise<void>;
  /** Not forced: hand out no more messages, let those on a connection finish. Forced: drop every connection. */
  close(options: { force: boolean }): void;
  /** Ends the thread; requests after it fail. */
  terminate(): Promise<void>;
}

interface Waiter {
  resolve(reply: SenderReply & { type: 'done' }): void;
  reject(error: Error): void;
}

interface Thread {
  worker: Worker;
  waiting: Map<number, Waiter>;
}

/** An error with nodemailer's fields again, so `classifySmtpError` reads it as if nodemailer had thrown it here. */
const toError = (fields: SmtpErrorFields) => Object.assign(new Error(fields.message), fields);

/**
 * nodemailer's pool (`options`) in a worker thread. Composing MIME and
 * writing it out is the bulk of a job's CPU; in a thread it runs on another
 * core and leaves the main thread's event loop to BullMQ (lock renewals,
 * fetching) and `/metrics`. The main thread posts each
 * message (a structured copy) and gets the server's reply or nodemailer's
 * error fields back.
 *
 * A thread that dies (an uncaught error in it) fails the requests it held, as
 * a dropped connection would: whether those messages went out is unknown, and
 * their jobs are retried. The next request starts a new thread.
 */
export function createSmtpSender(options: SmtpPoolOptions, module: URL = DEFAULT_SENDER_MODULE): SmtpSender {
  let current: Thread | undefined;
  let terminated = false;
  let nextId = 0;

  const start = (): Thread => {
    const worker = new Worker(module, { workerData: { options } });
    const thread: Thread = { worker, waiting: new Map() };
    // Like a socket, the thread keeps the process alive only while it holds requests.
    worker.unref();
    const stopped = (reason: string) => {
      if (current === thread) current = undefined;
      const error = new Error(`the SMTP sender thread ${reason}`);
      for (const waiter of thread.waiting.values()) waiter.reject(error);
      thread.waiting.clear();
    };
    worker.on('message', (reply: SenderReply) => {
      const waiter = thread.waiting.get(reply.id);
      if (!waiter) return;
      thread.waiting.delete(reply.id);
      if (thread.waiting.size === 0) worker.unref();
      if (reply.type === 'done') waiter.resolve(reply);
      else waiter.reject(toError(reply.error));
    });
    worker.on('error', (error) => stopped(`failed: ${error.message}`));
    worker.on('exit', (code) => stopped(`stopped (exit code ${code})`));
    return thread;
  };

  const request = (message: SenderRequest & { id: number }) =>
    new Promise<SenderReply & { type: 'done' }>((resolve, reject) => {
      if (terminated) {
        reject(new Error('the SMTP sender is closed'));
        return;
      }
      current ??= start();
      if (current.waiting.size === 0) current.worker.ref();
      current.waiting.set(message.id, { resolve, reject });
      current.worker.postMessage(message);
    });

  return {
    async sendMail(mail) {
      const reply = await request({ type: 'send', id: nextId++, mail });
      return { messageId: reply.messageId, response: reply.response };
    },
    async verify() {
      await request({ type: 'verify', id: nextId++ });
    },
    close({ force }) {
      current?.worker.postMessage({ type: 'close', force } satisfies SenderRequest);
    },
    async terminate() {
      terminated = true;
      await current?.worker.terminate();
    },
  };
}
