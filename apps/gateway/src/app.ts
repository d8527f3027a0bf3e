import { createReportStore, type ReportStore } from '@jobfleet/report-store';
import type { RedisClient } from '@jobfleet/service-kit';
import {
  createLogger,
  createMetricsRegistry,
  httpEdgeServerOptions,
  type Logger,
} from '@jobfleet/service-kit';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify';
import type { Registry } from 'prom-client';
import { type AuthMode, resolveAuth } from './auth.js';
import type { GatewayConfig } from './config.js';
import { type GatewayMetrics, gatewayMetrics } from './metrics.js';
import { registerOpenApi } from './openapi.js';
import { edgesPlugin } from './plugins/edges.js';
import { idempotencyPlugin } from './plugins/idempotency.js';
import { jobEventsPlugin } from './plugins/job-events.js';
import { metricsPlugin } from './plugins/metrics.js';
import { queuesPlugin } from './plugins/queues.js';
import { rateLimitPlugin } from './plugins/rate-limit.js';
import { redisPlugin } from './plugins/redis.js';
import { sendFrameworkProblem } from './problem.js';
import { requestIdOf } from './request-id.js';
import { lazyRequestLogger } from './request-log.js';
import {
  cancelRoutes,
  deadLetterRoutes,
  enqueueBatchRoutes,
  enqueueRoutes,
  jobEventRoutes,
  jobStatusRoutes,
  queueRoutes,
  reportDownloadRoutes,
  scheduleRoutes,
} from './routes/index.js';
import { installValidators } from './validation.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** The gateway's settings. */
    config: GatewayConfig;
    /** How requests are authenticated: the routes' authorization hooks take it. */
    auth: AuthMode;
    metrics: GatewayMetrics;
    /** Where rendered reports are read from. */
    reports: ReportStore;
  }
}

export interface BuildGatewayOptions {
  config: GatewayConfig;
  /** Defaults to a JSON logger at `LOG_LEVEL`. */
  logger?: Logger;
  /** Defaults to a fresh registry with the default process metrics. */
  registry?: Registry;
  /** What `/metrics` serves; defaults to `registry` (a cluster worker passes the whole cluster's). */
  metricsSource?: Pick<Registry, 'contentType' | 'metrics'>;
  /**
   * Whether this process reads the queue gauges at a scrape; defaults to
   * always. Of a cluster's workers only one does (see `cluster.ts`): the
   * others leave them empty, and the aggregation takes that one's.
   */
  readsQueueGauges?: () => boolean;
  /**
   * A producer-flavoured connection to use instead of opening one from
   * `REDIS_URL`. Whoever passes it closes it; a connection the gateway opened
   * itself is closed when the app closes.
   */
  redis?: RedisClient;
  /** Where rendered reports are read from; defaults to `createReportStore(config)` (`REPORTS_DIR`). */
  reportStore?: ReportStore;
}

/**
 * Builds the gateway, ready to `listen` (or to `inject` in tests): enqueue
 * (single and batch, idempotent), status, cancel, schedules and queue control
 * for every catalog queue; API keys with scopes, tenants and Redis-backed rate
 * limits; problem+json errors; load shedding and security headers; the OpenAPI
 * document and Swagger UI; `/metrics` (with the queue gauges) and `/health/*`.
 * Closing the app closes the queues and the Redis connection it opened.
 *
 * Throws a `ConfigError` when no API key is configured and authentication is
 * not explicitly disabled.
 */
export async function buildGateway(options: BuildGatewayOptions): Promise<FastifyInstance> {
  const { config } = options;
  const logger = options.logger ?? createLogger({ service: 'gateway', level: config.logLevel });
  // Before anything is opened: a gateway without keys must not start at all.
  const auth = resolveAuth(config, logger);
  const registry = options.registry ?? createMetricsRegistry();
  const metrics = gatewayMetrics(registry);

  // Typed as Fastify's logger interface, so the app is a plain `FastifyInstance`.
  const loggerInstance: FastifyBaseLogger = logger;
  const app = Fastify({
    ...httpEdgeServerOptions(config),
    loggerInstance,
    bodyLimit: config.bodyLimitBytes,
    genReqId: requestIdOf,
    frameworkErrors: sendFrameworkProblem,
    // Job ids (and later custom ids) up to the length the status route accepts.
    routerOptions: { maxParamLength: 512 },
    // One line per request instead of Fastify's two: see `requestLogWriter`.
    logController: new LogController({ requestIdLogLabel: 'request_id', disableRequestLogging: true }),
    childLoggerFactory: lazyRequestLogger,
  });
  // Same judgement as the worker's TypeBox checks, except that query strings are coerced.
  installValidators(app);

  try {
    const prefix = config.jobfleetPrefix;
    app.decorate('config', config);
    app.decorate<AuthMode>('auth', auth);
    app.decorate('metrics', metrics);
    app.decorate('reports', options.reportStore ?? createReportStore(config));
    app.decorateRequest('principal', null);
    // Resources: each plugin decorates the app and closes what it opened (the last registered first).
    await app.register(redisPlugin, { config, logger, redis: options.redis });
    await app.register(queuesPlugin, { prefix, logger });
    await app.register(jobEventsPlugin, { prefix, logger });
    await app.register(idempotencyPlugin, { prefix, ttlMs: config.idempotencyTtl });
    // What every request passes (see the plugin), then the API's description, operations and limits.
    await app.register(edgesPlugin, { config });
    // Before any route, so the document sees them all.
    await registerOpenApi(app);
    await app.register(metricsPlugin, {
      logger,
      source: options.metricsSource ?? registry,
      readsQueueGauges: options.readsQueueGauges,
    });
    await app.register(rateLimitPlugin, {
      prefix,
      defaults: { max: config.rateLimitMax, timeWindowMs: config.rateLimitWindowMs },
      maxWaitMs: config.rateLimitCountWaitMs,
    });
    for (const routes of [
      enqueueRoutes,
      enqueueBatchRoutes,
      jobStatusRoutes,
      jobEventRoutes,
      cancelRoutes,
      scheduleRoutes,
      queueRoutes,
      deadLetterRoutes,
      reportDownloadRoutes,
    ]) {
      await app.register(routes);
    }
    await app.ready();
    return app;
  } catch (error) {
    await app.close().catch(() => {});
    throw error;
  }
}
