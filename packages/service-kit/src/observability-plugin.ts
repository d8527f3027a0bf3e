import { timingSafeEqual } from 'node:crypto';
import type { FastifyPluginAsync } from 'fastify';
import fp from 'fastify-plugin';
import type { Registry } from 'prom-client';
import { Type } from 'typebox';
import { type ReadinessCheck, runReadinessChecks } from './health.js';

export interface ObservabilityOptions {
  /** What `/metrics` shows: the process's registry, or what stands for several processes' (a cluster's). */
  registry: Pick<Registry, 'contentType' | 'metrics'>;
  checks: readonly ReadinessCheck[];
  /** When set, `/metrics` wants `Authorization: Bearer <token>`. */
  metricsToken?: string | undefined;
}

function bearerMatches(header: string | undefined, token: string): boolean {
  const given = Buffer.from(header?.startsWith('Bearer ') ? header.slice(7) : '');
  const wanted = Buffer.from(token);
  return given.length === wanted.length && timingSafeEqual(given, wanted);
}

export const LiveStatus = Type.Object(
  { status: Type.Literal('ok') },
  { additionalProperties: false, description: 'The process answers.' },
);

/** What `/health/ready` answers, 200 or 503 alike. */
export const ReadyStatus = Type.Object(
  {
    status: Type.Union([Type.Literal('ok'), Type.Literal('unavailable')]),
    ok: Type.Boolean({ description: 'Every check passed.' }),
    checks: Type.Array(
      Type.Object(
        {
          name: Type.String({ description: 'What was checked, e.g. `redis`.' }),
          ok: Type.Boolean(),
          reason: Type.Optional(Type.String({ description: 'Why the check failed.' })),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);

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

  // Response schemas, so every service's OpenAPI document (where it has one) describes the probes.
  app.get('/health/live', { logLevel: 'warn', schema: { response: { 200: LiveStatus } } }, async () => ({
    status: 'ok',
  }));

  const ready = {
    logLevel: 'warn' as const,
    schema: {
      response: {
        200: { ...ReadyStatus, description: 'Every readiness check passed.' },
        503: { ...ReadyStatus, description: 'A readiness check failed; `checks` says which and why.' },
      },
    },
  };
  app.get('/health/ready', ready, async (_request, reply) => {
    const report = await runReadinessChecks(checks);
    return reply.code(report.ok ? 200 : 503).send({ status: report.ok ? 'ok' : 'unavailable', ...report });
  });
};

export const observabilityPlugin = fp(observability, { name: 'jobfleet-observability', fastify: '5.x' });
