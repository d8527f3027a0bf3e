import { emails } from '@jobfleet/queue-contracts';
import { defineWorker, type WorkerContext } from '@jobfleet/worker-runtime';
import { type EmailConfig, emailConfig, JOBS_PER_SMTP_CONNECTION } from './config.js';
import { createRedisDeliveryLedger } from './delivery-ledger.js';
import { createEmailHandlers } from './handlers.js';
import { type EmailMetrics, emailMetrics } from './metrics.js';
import { createOutboxTransport, type OutboxTransport } from './outbox.js';
import { rateLimiter } from './rate-limit.js';
import { createSmtpTransport, type SmtpTransport } from './smtp-transport.js';

/** Code-only options of the email worker's resources: no environment key reaches them. */
export interface EmailResourceOptions {
  /** The SMTP sender thread's module; default: the built one beside this file. Tests from `src/` pass it. */
  senderModule?: URL;
}

/** The transport the configuration asks for: SMTP when `SMTP_URL` is set, the file outbox otherwise. */
function createTransport(
  config: EmailConfig,
  metrics: EmailMetrics,
  options: EmailResourceOptions,
): SmtpTransport | OutboxTransport {
  if (config.smtpUrl) {
    return createSmtpTransport({
      endpoint: config.smtpUrl,
      starttls: config.smtpStarttls,
      tls: { rejectUnauthorized: config.smtpTlsRejectUnauthorized, ca: config.smtpTlsCaFile },
      ehloName: config.smtpEhloName,
      maxConnections: config.smtpMaxConnections,
      maxMessages: config.smtpMaxMessages,
      connectionTimeoutMs: config.smtpConnectionTimeoutMs,
      greetingTimeoutMs: config.smtpGreetingTimeoutMs,
      socketTimeoutMs: config.smtpSocketTimeoutMs,
      metrics,
      ...(options.senderModule ? { senderModule: options.senderModule } : {}),
    });
  }
  return createOutboxTransport({ dir: config.emailOutboxDir });
}

/** What the email worker's handlers share: its metrics and the transport, which closes after the worker. */
export function createEmailResources(
  { config, registry }: WorkerContext<EmailConfig>,
  options: EmailResourceOptions = {},
) {
  const metrics = emailMetrics(registry);
  const transport = createTransport(config, metrics, options);
  return {
    metrics,
    transport,
    readiness: [transport.readiness],
    drain: () => transport.drain?.(),
    close: () => transport.close(),
  };
}

/**
 * The email worker: the `emails` queue delivered through the transport the
 * configuration asks for, with the delivery ledger on the worker's Redis
 * connection, its metrics beside the runtime's, and the optional rate limit.
 */
export const worker = defineWorker({
  service: 'email-worker',
  metricsPort: 9101,
  config: emailConfig,
  resources: (context) => createEmailResources(context),
  // Handlers with a message on an SMTP connection at the shutdown deadline wait for its reply.
  abortGraceMs: (config) => (config.smtpUrl ? config.smtpSocketTimeoutMs : 5_000),
  queues: [
    {
      contract: emails,
      // Unset WORKER_CONCURRENCY: enough jobs to keep every pooled connection busy.
      concurrency: (config) => JOBS_PER_SMTP_CONNECTION * config.smtpMaxConnections,
      concurrencyText: `${JOBS_PER_SMTP_CONNECTION} × SMTP_MAX_CONNECTIONS (${JOBS_PER_SMTP_CONNECTION * Number(emailConfig.SMTP_MAX_CONNECTIONS.defaultText)})`,
      limiter: (config) =>
        config.emailRateLimit === undefined ? undefined : rateLimiter(config.emailRateLimit),
      handlers: ({ config, connection, prefix, resources }) =>
        createEmailHandlers({
          transport: resources.transport,
          ledger: createRedisDeliveryLedger({ connection, legacyPrefix: prefix }),
          metrics: resources.metrics,
          from: config.emailFrom,
          brand: { appName: config.appName, appUrl: config.appUrl },
          sendDelayMs: config.emailSendDelayMs,
        }),
    },
  ],
  started: ({ config, logger, resources: { transport }, concurrency }) => {
    const common = { concurrency: concurrency[emails.name], rate_limit: config.emailRateLimit ?? null };
    if (transport.kind === 'smtp') {
      logger.info(
        {
          transport: 'smtp',
          smtp: transport.url,
          starttls: config.smtpUrl?.secure ? 'implicit tls' : config.smtpStarttls,
          max_connections: config.smtpMaxConnections,
          max_messages: config.smtpMaxMessages,
          ...common,
        },
        'delivering e-mail over SMTP',
      );
      // Say at once when the server cannot be used; jobs are retried meanwhile and readiness reports it.
      void transport.readiness.check().then((result) => {
        if (!result.ok) logger.warn({ reason: result.reason }, 'the SMTP server is not usable yet');
      });
    } else {
      logger.info(
        { transport: 'outbox', outbox: transport.dir, ...common },
        'delivering e-mail to the outbox',
      );
    }
  },
});
