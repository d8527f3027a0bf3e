import { setTimeout as sleep } from 'node:timers/promises';
import { emails, type JobResult } from '@jobfleet/queue-contracts';
import type { HandlerMap, JobContext } from '@jobfleet/worker-runtime';
import { domainOf, type Mailbox } from './mailbox.js';
import { messageIdFor } from './message-id.js';
import {
  type Brand,
  type RenderedEmail,
  renderNotification,
  renderPasswordReset,
  renderWelcome,
} from './templates/index.js';
import type { MailTransport } from './transport.js';

export interface EmailHandlerDeps {
  transport: MailTransport;
  /** The sender of every message; its domain ends every Message-ID. */
  from: Mailbox;
  brand: Brand;
  /** A pause before each delivery (`EMAIL_SEND_DELAY_MS`); 0 for none. */
  sendDelayMs?: number;
}

type EmailResult = JobResult<typeof emails, 'welcome'>;

/**
 * Marks every message as machine-sent (RFC 3834), so auto-responders and
 * out-of-office replies leave it alone.
 */
const HEADERS = { 'Auto-Submitted': 'auto-generated' } as const;

/**
 * The `emails` queue's handlers: render the template, deliver through
 * `transport`, answer `{ messageId, transport }`. Logs name the job, template
 * and Message-ID, never the recipient (personal data).
 */
export function createEmailHandlers(deps: EmailHandlerDeps): HandlerMap<typeof emails> {
  const { transport, from, brand, sendDelayMs = 0 } = deps;
  const domain = domainOf(from.address);

  async function deliver(
    template: string,
    to: string,
    rendered: RenderedEmail,
    { job, log, signal }: JobContext,
  ): Promise<EmailResult> {
    if (job.id === undefined) throw new Error('the job has no id');
    const messageId = messageIdFor({ queue: emails.name, jobId: job.id, createdAt: job.timestamp, domain });
    if (sendDelayMs > 0) await sleep(sendDelayMs, undefined, { signal });
    const sent = await transport.send({ messageId, from, to, headers: HEADERS, ...rendered }, { signal });
    log.info({ template, message_id: sent.messageId, transport: transport.kind }, 'e-mail delivered');
    return { messageId: sent.messageId, transport: transport.kind };
  }

  return {
    welcome: (data, context) => deliver('welcome', data.to, renderWelcome(data, brand), context),
    'password-reset': (data, context) =>
      deliver('password-reset', data.to, renderPasswordReset(data, brand), context),
    notification: (data, context) => {
      if (data.html !== undefined) {
        // Until a sanitiser lands, caller HTML is never sent: the HTML part is the escaped text.
        context.log.info({ template: 'notification' }, 'caller html ignored; sending the text as html');
      }
      return deliver('notification', data.to, renderNotification(data), context);
    },
  };
}
