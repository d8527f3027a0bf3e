import { emails, type JobName } from '@jobfleet/queue-contracts';
import { DURATION_BUCKETS, perRegistry } from '@jobfleet/service-kit';
import { Counter, Histogram } from 'prom-client';

/**
 * What went wrong with an SMTP delivery, a closed set (it is a metric label):
 *
 * - `reply_4xx`: the server answered with a temporary failure (greylisting,
 *   quota, overload); retried.
 * - `reply_5xx`: the server refused for good (no such mailbox, policy); the job
 *   fails at once. 503 (bad sequence of commands) is counted here too but is
 *   retried: it says the session was in a wrong state, not that the message is
 *   unwanted.
 * - `connection`: refused, reset, dropped mid-transaction, DNS; retried.
 * - `timeout`: connecting, the greeting, or a reply took too long; retried.
 * - `tls`: the TLS handshake or STARTTLS failed (certificate, or STARTTLS
 *   required but not offered); retried, though usually a configuration problem.
 * - `other`: anything else (authentication without a reply, protocol errors); retried.
 */
export const SMTP_ERROR_CLASSES = [
  'reply_4xx',
  'reply_5xx',
  'connection',
  'timeout',
  'tls',
  'other',
] as const;
export type SmtpErrorClass = (typeof SMTP_ERROR_CLASSES)[number];

export type EmailTemplate = JobName<typeof emails>;

export interface EmailMetrics {
  /** `jobfleet_emails_sent_total{template}` */
  sent: Counter<'template'>;
  /** `jobfleet_smtp_errors_total{class}` */
  smtpErrors: Counter<'class'>;
  /** `jobfleet_smtp_send_duration_seconds{outcome}`, outcome `accepted` or `failed` */
  smtpSendDuration: Histogram<'outcome'>;
}

/**
 * The email worker's own metrics, registered once per registry beside the
 * runtime's. Every label value is created at zero, so rates and alerts work
 * before the first event.
 */
export const emailMetrics = perRegistry((registers): EmailMetrics => {
  const metrics: EmailMetrics = {
    sent: new Counter({
      name: 'jobfleet_emails_sent_total',
      help: 'E-mails delivered (accepted by the SMTP server, or written to the outbox), by template.',
      labelNames: ['template'],
      registers,
    }),
    smtpErrors: new Counter({
      name: 'jobfleet_smtp_errors_total',
      help: 'Failed SMTP deliveries, by failure class (reply_4xx, reply_5xx, connection, timeout, tls, other).',
      labelNames: ['class'],
      registers,
    }),
    smtpSendDuration: new Histogram({
      name: 'jobfleet_smtp_send_duration_seconds',
      help: 'Time to hand one message to the SMTP server, from the pool queue to its final reply.',
      labelNames: ['outcome'],
      buckets: DURATION_BUCKETS,
      registers,
    }),
  };
  for (const template of Object.keys(emails.jobs)) metrics.sent.labels({ template }).inc(0);
  for (const kind of SMTP_ERROR_CLASSES) metrics.smtpErrors.labels({ class: kind }).inc(0);
  return metrics;
});
