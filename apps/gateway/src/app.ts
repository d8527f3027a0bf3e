import { DeadLetterStore } from '@jobfleet/dead-letter-store';
import { createReportStore, type ReportStore } from '@jobfleet/report-store';
import type { RedisClient } from '@jobfleet/service-kit';
import {
  activeTelemetry,
  checkWhenReady,
  closeRedis,
  createLogger,
  createMetricsRegistry,
  createRedisConnection,
  httpEdgeServerOptions,
  installHttpEdges,
  type Logger,
  observabilityPlugin,
  redisReadinessCheck,
  redisTopology,
} from '@jobfleet/service-kit';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify';
import type { Registry } from 'prom-client';
import { resolveAuth } from './auth.js';
import type { GatewayConfig } from './config.js';
import { IdempotencyStore } from './idempotency.js';
import { JobEvents } from './job-events.js';
import { acceptOnlyJson } from './json-body.js';
import { registerLoadShedding } from './load-shedding.js';
import { gatewayMetrics, UNMATCHED_ROUTE } from './metrics.js';
import { registerOpenApi } from './openapi.js';
import { installProblemHandlers, sendFrameworkProblem } from './problem.js';
import { queueGaugeRefresher } from './queue-stats.js';
import { GatewayQueues } from './queues.js';
import { rateLimitHook } from './rate-limit.js';
import { installReplicationBarrier } from './replication.js';
import { REQUEST_ID_HEADER, requestIdOf } from './request-id.js';
import { requestLogWriter } from './request-log.js';
import {
  cancelRoutes,
  deadLetterRoutes,
  enqueueBatchRoutes,
  enqueueRoutes,
  jobEventRoutes,
  jobStatusRoutes,
  type QueueRouteOptions,
  queueRoutes,
  reportDownloadRoutes,
  scheduleRoutes,
} from './routes/index.js';
import { API_SECURITY_HEADERS } from './security-headers.js';
import { installValidators } from './validation.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** The producer connection every queue uses. */
    redis: RedisClient;
    /** The catalog's queues, as the gateway posts to them. */
    queues: GatewayQueues;
    /** The queues' event streams, shared by the requests waiting for a job. */
    jobEvents: JobEvents;
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
   * A producer-flavoured connection to use instead of opening one from
   * `REDIS_URL`. Whoever passes it closes it; a connection the gateway opened
   * itself is closed when the app closes.
   */
  redis?: RedisClient;
  /** Where rendered reports are read from; defaults to `createReportStore(config)` (`REPORTS_DIR`). */
  reportStore?: ReportStore;
}

/** `/health/*` and `/metrics`: left out of `jobfleet_http_request_duration_seconds`. */
export function isOperationsRoute(route: string | undefined): boolean {
  return route === '/metrics' || (route?.startsWith('/health/') ?? false);
}

/**
 * The dead-letter store on the gateway's connection, with its BullMQ queues
 * (the records' and, made up front, every source queue a redrive sends to)
 * listening for errors as the gateway's own queues do: an outage is logged
 * once by the connection, anything else once per error.
 */
function deadLetterStoreOn(redis: RedisClient, prefix: string, logger: Logger): DeadLetterStore {
  // With tracing on, the store's queues trace their adds like the gateway's own queues.
  const store = new DeadLetterStore({ connection: redis, prefix, telemetry: activeTelemetry() });
  const listen = (queue: { name: string; on(event: 'error', listener: (error: Error) => void): unknown }) =>
    queue.on('error', (error) => {
      if (redis.status === 'ready') logger.error({ err: error, queue: queue.name }, 'queue error');
    });
  listen(store.deadLetterQueue);
  for (const name of store.contracts.keys()) listen(store.sourceQueue(name));
  return store;
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
  });
  // Same judgement as the worker's TypeBox checks, except that query strings are coerced.
  installValidators(app);

  try {
    const ownsRedis = options.redis === undefined;
    const redis =
      options.redis ??
      createRedisConnection({
        redis: redisTopology(config),
        flavour: 'producer',
        name: 'gateway',
        logger,
        commandTimeoutMs: config.redisCommandTimeoutMs,
        // Concurrent requests each add a job: one write per turn of the loop, not one per job.
        coalesceWrites: true,
      });
    const queues = new GatewayQueues(redis, config.jobfleetPrefix, logger);
    const deadLetterStore = deadLetterStoreOn(redis, config.jobfleetPrefix, logger);
    const jobEvents = new JobEvents(redis, config.jobfleetPrefix, logger);
    // Before the server stops taking connections: waiting requests answer and event streams end.
    app.decorate('jobEvents', jobEvents);
    app.addHook('preClose', () => jobEvents.close());
    app.decorate<RedisClient>('redis', redis);
    app.decorate('queues', queues);
    app.decorateRequest('principal', null);
    app.addHook('onClose', async () => {
      await Promise.all([queues.close(), deadLetterStore.close()]);
      if (ownsRedis) await closeRedis(redis);
    });

    acceptOnlyJson(app);
    installProblemHandlers(app);
    installReplicationBarrier(app, redis, {
      replicas: config.redisMinReplicasAck,
      timeoutMs: config.redisMinReplicasAckTimeoutMs,
    });

    // First: every answer, a refusal by any later hook included, carries the request id and the security headers.
    app.addHook('onRequest', (request, reply, done) => {
      reply.headers(API_SECURITY_HEADERS);
      reply.header(REQUEST_ID_HEADER, request.id);
      done();
    });
    installHttpEdges(app, config);
    const writeRequestLog = requestLogWriter(app);
    // One hook for the request's metric and log line: each hook costs every request.
    app.addHook('onResponse', (request, reply, done) => {
      // Read once: the routeOptions getter builds a new object on every access.
      const route = request.routeOptions.url;
      // Probes and scrapes are frequent, fast and never the API's answer: they would distort its latency and 5xx ratio.
      if (!isOperationsRoute(route)) {
        metrics.observeHttp(
          request.method,
          route ?? UNMATCHED_ROUTE,
          reply.statusCode,
          reply.elapsedTime / 1_000,
        );
      }
      writeRequestLog(request, reply);
      done();
    });
    await registerLoadShedding(app, config);
    // Before any route, so the document sees them all.
    await registerOpenApi(app);

    const redisCheck = redisReadinessCheck(redis, logger, { prefix: config.jobfleetPrefix });
    await app.register(observabilityPlugin, {
      registry: options.metricsSource ?? registry,
      checks: [redisCheck],
      metricsToken: config.metricsToken,
    });
    const refreshQueueGauges = queueGaugeRefresher({
      redis,
      queues,
      metrics,
      cacheMs: config.queueMetricsCacheMs,
      logger,
    });
    metrics.refreshQueueGauges = refreshQueueGauges;
    app.addHook('onClose', async () => {
      // Another gateway on the same registry may have taken over since.
      if (metrics.refreshQueueGauges === refreshQueueGauges) metrics.refreshQueueGauges = undefined;
    });

    const routeOptions: QueueRouteOptions = {
      queues,
      auth,
      redis,
      keyPrefix: config.jobfleetPrefix,
      metrics,
      rateLimit: rateLimitHook({
        redis,
        prefix: config.jobfleetPrefix,
        defaults: { max: config.rateLimitMax, timeWindowMs: config.rateLimitWindowMs },
      }),
      idempotency: new IdempotencyStore({
        redis,
        prefix: config.jobfleetPrefix,
        ttlMs: config.idempotencyTtl,
      }),
      jobEvents,
      allowPrivateCallbacks: config.webhookAllowPrivateNetworks,
    };
    for (const routes of [
      enqueueRoutes,
      enqueueBatchRoutes,
      jobStatusRoutes,
      jobEventRoutes,
      cancelRoutes,
      scheduleRoutes,
      queueRoutes,
    ]) {
      await app.register(routes, routeOptions);
    }
    await app.register(deadLetterRoutes, { ...routeOptions, deadLetters: deadLetterStore });
    await app.register(reportDownloadRoutes, {
      ...routeOptions,
      reports: options.reportStore ?? createReportStore(config),
    });
    await app.ready();
    checkWhenReady(redis, redisCheck);
    return app;
  } catch (error) {
    await app.close().catch(() => {});
    throw error;
  }
}
