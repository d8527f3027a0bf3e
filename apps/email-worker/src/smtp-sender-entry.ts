import { parentPort, workerData } from 'node:worker_threads';
import nodemailer from 'nodemailer';
import {
  errorFields,
  type SenderReply,
  type SenderRequest,
  type SmtpPoolOptions,
} from './smtp-sender-protocol.js';

// The sender thread (see `createSmtpSender`): one nodemailer pool, driven by the main thread's requests.
// No stacks here: the main thread gets a failure's fields (message, code…) and a crash's message, never a
// stack, and Node's stream.pipeline, which nodemailer runs for every message, makes an AbortError each time,
// stack and all (2-8 % of nodemailer's CPU per message, ad hoc).
Error.stackTraceLimit = 0;
const port = parentPort;
if (!port) throw new Error('smtp-sender-entry.js runs as a worker thread');
const transporter = nodemailer.createTransport((workerData as { options: SmtpPoolOptions }).options);
const reply = (message: SenderReply) => port.postMessage(message);
const failed = (id: number) => (error: unknown) => reply({ type: 'failed', id, error: errorFields(error) });

port.on('message', (request: SenderRequest) => {
  switch (request.type) {
    case 'send':
      transporter
        .sendMail(request.mail)
        .then(
          (info) =>
            reply({ type: 'done', id: request.id, messageId: info.messageId, response: info.response }),
          failed(request.id),
        );
      break;
    case 'verify':
      transporter
        .verify()
        .then(
          () => reply({ type: 'done', id: request.id, messageId: '', response: undefined }),
          failed(request.id),
        );
      break;
    case 'close':
      (transporter.close as (options?: { force?: boolean }) => void)({ force: request.force });
      break;
  }
});
