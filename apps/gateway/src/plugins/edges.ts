import { installHttpEdges } from '@jobfleet/service-kit';
import fp from 'fastify-plugin';
import type { GatewayConfig } from '../config.js';
import { acceptOnlyJson } from '../json-body.js';
import { registerLoadShedding } from '../load-shedding.js';
import { UNMATCHED_ROUTE } from '../metrics.js';
import { installProblemHandlers } from '../problem.js';
import { installReplicationBarrier } from '../replication.js';
import { REQUEST_ID_HEADER } from '../request-id.js';
import { requestLogWriter } from '../request-log.js';
import { API_SECURITY_HEADERS } from '../security-headers.js';

/** `/health/*` and `/metrics`: left out of `jobfleet_http_request_duration_seconds`. */
export function isOperationsRoute(route: string | undefined): boolean {
  return route === '/metrics' || (route?.startsWith('/health/') ?? false);
}

/**
 * What every request passes, whatever its route: JSON bodies only,
 * problem+json answers, the replication barrier, the request id and security
 * headers on every answer (a refusal by any later hook included), the HTTP
 * edges (timeouts, drained early-answered bodies), one `onResponse` hook for
 * the request's metric and log line, and load shedding. Hooks are few on
 * purpose: each one costs every request.
 */
export const edgesPlugin = fp<{ config: GatewayConfig }>(
  async (app, { config }) => {
    acceptOnlyJson(app);
    installProblemHandlers(app);
    installReplicationBarrier(app, app.redis, {
      replicas: config.redisMinReplicasAck,
      timeoutMs: config.redisMinReplicasAckTimeoutMs,
    });
    app.addHook('onRequest', (request, reply, done) => {
      reply.headers(API_SECURITY_HEADERS);
      reply.header(REQUEST_ID_HEADER, request.id);
      done();
    });
    installHttpEdges(app, config);
    const { metrics } = app;
    const writeRequestLog = requestLogWriter(app);
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
  },
  { name: 'jobfleet-edges', dependencies: ['jobfleet-redis'] },
);
