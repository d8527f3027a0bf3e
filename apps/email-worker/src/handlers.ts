import { setTimeout as sleep } from 'node:timers/promises';
import { emails, type JobResult } from '@jobfleet/queue-contracts';
import { bindCounter } from '@jobfleet/service-kit';
import type { HandlerMap, JobContext } from '@jobfleet/worker-runtime';
import { type DeliveryLedger, jobHashKey, type LedgerJob } from './delivery-ledger.js';
import { domainOf, type Mailbox } from './mailbox.js';
import { messageIdFor } from './message-id.js';
import type { EmailMetrics, EmailTemplate } from './metrics.js';
import { isSmtpError } from './smtp-errors.js';
import {
  type Brand,
  type RenderedEmail,
  renderNotification,
  renderPasswordReset,
  renderWelcome,
} from './templates/index.js';
import type { MailTransport, SendResult } from './transport.js';

export interface EmailHandlerDeps {
  transport: MailTransport;
  /** Checked before sending and written as soon as a message is accepted. */
  ledger: DeliveryLedger;
  metrics: EmailMetrics;
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
 * The `emails` queue's handlers: look the job up in the delivery ledger (a
 * job whose message was already accepted completes without sending it
 * again), render the template, deliver through `transport`, record the
 * delivery, answer `{ messageId, transport }`. Logs name the job, template
 * and Message-ID, never the recipient (personal data).
 */
export function createEmailHandlers(deps: EmailHandlerDeps): HandlerMap<typeof emails> {
  const { transport, ledger, metrics, from, brand, sendDelayMs = 0 } = deps;
  const domain = domainOf(from.address);
  const sent = new Map<EmailTemplate, { inc(): void }>();
  const countSent = (template: EmailTemplate) => {
    let counter = sent.get(template);
    if (!counter) {
      counter = bindCounter(metrics.sent, { template });
      sent.set(template, counter);
    }
    counter.inc();
  };

  async function deliver(
    template: EmailTemplate,
    to: string,
    render: () => RenderedEmail,
    context: JobContext,
  ): Promise<EmailResult> {
    // `log` is read only where a line is written: the runtime builds the job's child logger on first use.
    // `signal` too, where a pause needs it: a run makes its signal when first read; the send checks `context`.
    const { job, firstStart, ensureOwned } = context;
    if (job.id === undefined) throw new Error('the job has no id');
    const ledgerJob: LedgerJob = {
      key: jobHashKey(job),
      queue: emails.name,
      jobId: job.id,
      createdAt: job.timestamp,
    };
    const messageId = messageIdFor({ queue: emails.name, jobId: job.id, createdAt: job.timestamp, domain });

    // Cut off from Redis past its lock, this worker may find the job run by another: then it must not
    // send. Without a pause before sending, the lock is checked together with the ledger lookup (two
    // commands in one turn, one round trip; none for a lock this fetch took moments ago, which the
    // runtime answers itself). With a pause, it is checked right after the pause, as late as it can be.
    // A first start has nothing to look up: the message goes out with no Redis command before it.
    const [earlier] = await Promise.all([
      firstStart ? undefined : ledger.lookup(ledgerJob),
      sendDelayMs > 0 ? undefined : ensureOwned(),
    ]);
    if (earlier) {
      // An unreadable record still means "delivered"; the result is then rebuilt from this attempt.
      const result = earlier.messageId
        ? { messageId: earlier.messageId, transport: earlier.transport }
        : { messageId, transport: transport.kind };
      context.log.info(
        { template, message_id: result.messageId, delivered_at: earlier.deliveredAt },
        'e-mail already delivered by an earlier attempt; not sending it again',
      );
      return result;
    }

    const rendered = render();
    if (sendDelayMs > 0) {
      await sleep(sendDelayMs, undefined, { signal: context.signal });
      await ensureOwned();
    }
    let result: SendResult;
    try {
      result = await transport.send(
        { messageId, from, to, headers: HEADERS, ...rendered },
        { cancellation: context },
      );
    } catch (error) {
      if (isSmtpError(error)) {
        context.log.warn(
          {
            template,
            message_id: messageId,
            smtp_class: error.smtpClass,
            smtp_code: error.responseCode,
            smtp_command: error.command,
            permanent: error.permanent,
            reason: error.message,
          },
          error.permanent ? 'e-mail refused for good by the SMTP server' : 'e-mail not delivered this time',
        );
      }
      throw error;
    }

    try {
      const kept = await ledger.record(ledgerJob, {
        messageId: result.messageId,
        transport: transport.kind,
        deliveredAt: new Date().toISOString(),
        response: result.response,
      });
      if (!kept) {
        // Removed while it ran (obliterated, or removed by force): there is no job left to rerun.
        context.log.warn(
          { template, message_id: result.messageId },
          'e-mail delivered, but its job no longer exists; nothing recorded',
        );
      }
    } catch (error) {
      // The message is out: failing the job now would only send it again on the retry.
      context.log.error(
        { err: error, template, message_id: result.messageId },
        'e-mail delivered, but the delivery ledger could not record it; a rerun of this job would send it again',
      );
    }
    countSent(template);
    context.log.info(
      { template, message_id: result.messageId, transport: transport.kind },
      'e-mail delivered',
    );
    return { messageId: result.messageId, transport: transport.kind };
  }

  return {
    welcome: (data, context) => deliver('welcome', data.to, () => renderWelcome(data, brand), context),
    'password-reset': (data, context) =>
      deliver('password-reset', data.to, () => renderPasswordReset(data, brand), context),
    notification: (data, context) =>
      deliver('notification', data.to, () => renderNotification(data), context),
  };
}
