import fastifyFormbody from '@fastify/formbody';
import fastifyHelmet from '@fastify/helmet';
import { DeadLetterStore } from '@jobfleet/dead-letter-store';
import type { RedisClient } from '@jobfleet/service-kit';
import {
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
import { authenticationGuard, roleGuard } from './access.js';
import { assetRoutes } from './assets.js';
import { resolveAuth } from './auth-mode.js';
import { ROLE_CONSTRAINT, registerBoards, roleConstraint } from './boards.js';
import type { DashboardConfig } from './config.js';
import { csrfGuard } from './csrf.js';
import { loginRoutes } from './login-routes.js';
import { LoginThrottle } from './login-throttle.js';
import { dashboardMetrics, UNMATCHED_ROUTE } from './metrics.js';
import { overviewRoutes } from './overview-routes.js';
import { installProblemHandlers, sendFrameworkProblem } from './problem.js';
import { DashboardQueues } from './queues.js';
import { securityHeaders } from './security-headers.js';
import { registerSessions, resolveSessionSecret, Sessions } from './session.js';
import type { Role } from './users.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** The producer connection every read and action uses. */
    redis: RedisClient;
    /** The queues the dashboard shows. */
    queues: DashboardQueues;
  }
}

/** Fastify's default: bull-board's JSON calls (a job's data to add or edit) stay far below it. */
export const DASHBOARD_BODY_LIMIT_BYTES = 1_048_576;

export interface BuildDashboardOptions {
  config: DashboardConfig;
  /** Defaults to a JSON logger at `LOG_LEVEL`. */
  logger?: Logger;
  /** Defaults to a fresh registry with the default process metrics. */
  registry?: Registry;
  /**
   * A producer-flavoured connection to use instead of opening one from
   * `REDIS_URL`. Whoever passes it closes it; a connection the dashboard opened
   * itself is closed when the app closes.
   */
  redis?: RedisClient;
  /** The clock, for tests of session and throttle expiry. */
  now?: () => number;
}

/**
 * Builds the dashboard, ready to `listen` (or to `inject` in tests): the login
 * form and sessions, the fleet overview at `/`, bull-board at `/admin/queues`
 * (an admin board and a read-only viewer board, routed by the session's role),
 * CSRF and role guards on every state-changing request, security headers,
 * `/metrics` and `/health/*`. Closing the app closes the queues and the Redis
 * connection it opened.
 *
 * Throws a `ConfigError` when no user is configured and authentication is not
 * explicitly disabled.
 */
export async function buildDashboard(options: BuildDashboardOptions): Promise<FastifyInstance> {
  const { config, now = Date.now } = options;
  const logger = options.logger ?? createLogger({ service: 'dashboard', level: config.logLevel });
  // Before anything is opened: a dashboard without users must not start at all.
  const auth = await resolveAuth(config, logger);
  const sessionSecret = resolveSessionSecret(config, logger);
  const registry = options.registry ?? createMetricsRegistry();
  const metrics = dashboardMetrics(registry);
  const sessions = new Sessions(auth, config.dashboardSessionTtlMs, now);
  const throttle = new LoginThrottle({
    maxFailures: config.dashboardLoginMaxFailures,
    lockoutMs: config.dashboardLoginLockoutMs,
    now,
  });

  // The router asks for a request's role before any hook runs; bound once the session plugin exists.
  let roleOf: Parameters<typeof roleConstraint>[0] = (): Role => 'viewer';
  const loggerInstance: FastifyBaseLogger = logger;
  const edges = { ...config, bodyLimitBytes: DASHBOARD_BODY_LIMIT_BYTES };
  const app = Fastify({
    ...httpEdgeServerOptions(edges),
    bodyLimit: DASHBOARD_BODY_LIMIT_BYTES,
    frameworkErrors: sendFrameworkProblem,
    loggerInstance,
    trustProxy: config.dashboardTrustProxy,
    logController: new LogController({ requestIdLogLabel: 'request_id' }),
    routerOptions: {
      maxParamLength: 1_024,
      constraints: { [ROLE_CONSTRAINT]: roleConstraint((request) => roleOf(request)) },
    },
  });

  try {
    const ownsRedis = options.redis === undefined;
    const redis =
      options.redis ??
      createRedisConnection({ redis: redisTopology(config), flavour: 'producer', name: 'dashboard', logger });
    const queues = new DashboardQueues(redis, config.jobfleetPrefix, logger);
    // Redrives from bull-board's Retry on a dead-letter record, as the gateway's redrive route does.
    const deadLetterStore = new DeadLetterStore({ connection: redis, prefix: config.jobfleetPrefix });
    app.decorate<RedisClient>('redis', redis);
    app.decorate('queues', queues);
    app.decorateRequest('principal', null);
    app.addHook('onClose', async () => {
      await Promise.all([queues.close(), deadLetterStore.close()]);
      if (ownsRedis) await closeRedis(redis);
    });

    installProblemHandlers(app);
    installHttpEdges(app, edges);

    await app.register(fastifyHelmet, securityHeaders);
    await app.register(fastifyFormbody, { bodyLimit: 16_384 });
    await registerSessions(app, {
      secret: sessionSecret,
      ttlMs: config.dashboardSessionTtlMs,
      cookieSecure: config.dashboardCookieSecure,
    });
    roleOf = (request) => sessions.principalOfRaw(app, request)?.role ?? 'viewer';

    // In this order: the origin check, then who is asking, then whether they may.
    app.addHook('onRequest', csrfGuard(config.dashboardPublicUrl));
    app.addHook('onRequest', authenticationGuard(sessions));
    app.addHook('onRequest', roleGuard());
    app.addHook('onResponse', async (request, reply) => {
      metrics.httpDuration.observe(
        {
          method: request.method,
          route: request.routeOptions.url ?? UNMATCHED_ROUTE,
          status_code: String(reply.statusCode),
        },
        reply.elapsedTime / 1_000,
      );
    });

    const redisCheck = redisReadinessCheck(redis, logger, { prefix: config.jobfleetPrefix });
    await app.register(observabilityPlugin, {
      registry,
      checks: [redisCheck],
      metricsToken: config.metricsToken,
    });
    await app.register(assetRoutes);
    await app.register(loginRoutes, { auth, sessions, throttle, metrics });
    await app.register(overviewRoutes, {
      queues,
      redis,
      refreshMs: config.dashboardRefreshMs,
      authDisabled: !auth.enabled,
      now,
    });
    await registerBoards(app, { queues, redis, deadLetterStore, authEnabled: auth.enabled });
    await app.ready();
    checkWhenReady(redis, redisCheck);
    return app;
  } catch (error) {
    await app.close().catch(() => {});
    throw error;
  }
}
