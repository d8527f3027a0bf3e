import { timingSafeEqual } from 'node:crypto';
import type { FastifyPluginAsync } from 'fastify';
import fp from 'fastify-plugin';
import type { Registry } from 'prom-client';
import { type ReadinessCheck, runReadinessChecks } from './health.js';

export interface ObservabilityOptions {
  registry: Registry;
  checks: readonly ReadinessCheck[];
  /** When set, `/metrics` wants `Authorization: Bearer <token>`. */
  metricsToken?: string | undefined;
}

function bearerMatches(header: string | undefined, token: string): boolean {
  const given = Buffer.from(header?.startsWith('Bearer ') ? header.slice(7) : '');
  const wanted = Buffer.from(token);
  return given.length === wanted.length && timingSafeEqual(given, wanted);
}

/**
 * `GET /metrics` (Prometheus text format), `GET /health/live` (the process
 * answers) and `GET /health/ready` (every readiness check passes): 200, or 503
 * with the reasons. None of them needs an API key.
 */
const observability: FastifyPluginAsync<ObservabilityOptions> = async (
  app,
  { registry, checks, metricsToken },
) => {
  app.get('/metrics', { logLevel: 'warn' }, async (request, reply) => {
    if (metricsToken && !bearerMatches(request.headers.authorization, metricsToken)) {
      return reply.code(401).type('text/plain').send('metrics token required\n');
    }
    reply.type(registry.contentType);
    return registry.metrics();
  });

  app.get('/health/live', { logLevel: 'warn' }, async () => ({ status: 'ok' }));

  app.get('/health/ready', { logLevel: 'warn' }, async (_request, reply) => {
    const report = await runReadinessChecks(checks);
    return reply.code(report.ok ? 200 : 503).send({ status: report.ok ? 'ok' : 'unavailable', ...report });
  });
};

export const observabilityPlugin = fp(observability, { name: 'jobfleet-observability', fastify: '5.x' });
