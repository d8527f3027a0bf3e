import { parentPort, workerData } from 'node:worker_threads';
import nodemailer from 'nodemailer';
import {
  errorFields,
  type SenderReply,
  type SenderRequest,
  type SmtpPoolOptions,
} from './smtp-sender-protocol.js';

// The sender thread (see `createSmtpSender`): one nodemailer pool, driven by the main thread's requests.
const port = parentPort;
if (!port) throw new Error('smtp-sender-entry.js runs as a worker thread');
const transporter = nodemailer.createTransport((workerData as { options: SmtpPoolOptions }).options);
const failed = (id: number) => (error: unknown) =>
  port.postMessage({ type: 'failed', id, error: errorFields(error) } satisfies SenderReply);

port.on('message', (request: SenderRequest) => {
  switch (request.type) {
    case 'send':
      transporter.sendMail(request.mail).then((info) => {
        const reply: SenderReply = {
          type: 'done',
          id: request.id,
          messageId: info.messageId,
          response: info.response,
        };
        port.postMessage(reply);
      }, failed(request.id));
      break;
    case 'verify':
      transporter.verify().then(() => {
        const reply: SenderReply = { type: 'done', id: request.id, messageId: '', response: undefined };
        port.postMessage(reply);
      }, failed(request.id));
      break;
    case 'close':
      (transporter.close as (options?: { force?: boolean }) => void)({ force: request.force });
      break;
  }
});
