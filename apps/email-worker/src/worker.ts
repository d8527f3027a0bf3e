import { emails } from '@jobfleet/queue-contracts';
import { createLogger, createMetricsRegistry, type Logger, type ReadinessCheck } from '@jobfleet/service-kit';
import { type HandlerMap, type RunningWorker, runWorker } from '@jobfleet/worker-runtime';
import { type EmailWorkerConfig, emailWorkerConcurrency } from './config.js';
import { createRedisDeliveryLedger } from './delivery-ledger.js';
import { createEmailHandlers } from './handlers.js';
import { type EmailMetrics, emailMetrics } from './metrics.js';
import { createOutboxTransport } from './outbox.js';
import { rateLimiter } from './rate-limit.js';
import { createSmtpTransport } from './smtp-transport.js';
import type { MailTransport } from './transport.js';

export interface StartEmailWorkerOptions {
  config: EmailWorkerConfig;
  /** Defaults to a pino logger at `LOG_LEVEL`. */
  logger?: Logger;
  /** Install SIGTERM/SIGINT handling (the entrypoint does; tests do not). */
  handleSignals?: boolean;
  /** Decorates the handlers (tests: the contract suite's `wrap`, crash simulations). */
  wrap?: (handlers: HandlerMap<typeof emails>) => HandlerMap<typeof emails>;
}

export interface EmailWorker extends RunningWorker {
  readonly transport: MailTransport;
}

/** The transport the configuration asks for: SMTP when `SMTP_URL` is set, the file outbox otherwise. */
function createTransport(config: EmailWorkerConfig, metrics: EmailMetrics) {
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
    });
  }
  return createOutboxTransport({ dir: config.emailOutboxDir });
}

/**
 * The email worker, assembled from its configuration: the transport, the
 * delivery ledger on the worker's own Redis connection, the metrics on the
 * worker's registry, the rate limit, and the runtime around them. `main.ts`
 * calls it; tests call it in-process.
 */
export async function startEmailWorker(options: StartEmailWorkerOptions): Promise<EmailWorker> {
  const { config } = options;
  const logger =
    options.logger ?? createLogger({ service: 'email-worker', level: config.logLevel as 'info' });
  const registry = createMetricsRegistry();
  const metrics = emailMetrics(registry);
  const transport = createTransport(config, metrics);
  const readiness: ReadinessCheck[] = [transport.readiness];
  const limiter = config.emailRateLimit === undefined ? undefined : rateLimiter(config.emailRateLimit);
  const concurrency = emailWorkerConcurrency(config);

  let worker: RunningWorker;
  try {
    worker = await runWorker({
      contract: emails,
      config: { ...config, workerConcurrency: concurrency },
      service: 'email-worker',
      logger,
      registry,
      readiness,
      handleSignals: options.handleSignals ?? false,
      ...(limiter ? { workerOptions: { limiter } } : {}),
      handlers: ({ connection, prefix }) => {
        const handlers = createEmailHandlers({
          transport,
          ledger: createRedisDeliveryLedger({ connection, prefix, ttlMs: config.emailLedgerTtlMs }),
          metrics,
          from: config.emailFrom,
          brand: { appName: config.appName, appUrl: config.appUrl },
          sendDelayMs: config.emailSendDelayMs,
        });
        return options.wrap ? options.wrap(handlers) : handlers;
      },
      onClose: () => transport.close(),
    });
  } catch (error) {
    await transport.close();
    throw error;
  }

  if (transport.kind === 'smtp') {
    logger.info(
      {
        transport: 'smtp',
        smtp: transport.url,
        starttls: config.smtpUrl?.secure ? 'implicit tls' : config.smtpStarttls,
        max_connections: config.smtpMaxConnections,
        max_messages: config.smtpMaxMessages,
        concurrency,
        rate_limit: config.emailRateLimit ?? null,
      },
      'delivering e-mail over SMTP',
    );
    // Say at once when the server cannot be used; jobs are retried meanwhile and readiness reports it.
    void transport.readiness.check().then((result) => {
      if (!result.ok) logger.warn({ reason: result.reason }, 'the SMTP server is not usable yet');
    });
  } else {
    logger.info(
      { transport: 'outbox', outbox: transport.dir, concurrency, rate_limit: config.emailRateLimit ?? null },
      'delivering e-mail to the outbox',
    );
  }
  return { ...worker, transport };
}
