import type { FastifyInstance, FastifyRequest } from 'fastify';

declare module 'fastify' {
  interface FastifyRequest {
    /** What the request did, for its one log line (set by the route); `null` when nothing to add. */
    outcome: { message: string; fields: Record<string, unknown> } | null;
  }
}

/** Records what a request did, for its log line: `message` and fields such as `job_id`, `queue`, `client`. */
export function describeOutcome(
  request: FastifyRequest,
  message: string,
  fields: Record<string, unknown>,
): void {
  request.outcome = { message, fields };
}

/**
 * One log line per request, when it is answered: method, URL, status, time
 * and what the route did (the job it enqueued, say), with the request id —
 * instead of Fastify's two lines per request plus the route's own. Logging is
 * a large share of a small request's cost, and one line says it all. Routes
 * with a higher `logLevel` (health probes, scrapes) stay quiet.
 */
export function installRequestLog(app: FastifyInstance): void {
  app.decorateRequest('outcome', null);
  app.addHook('onResponse', (request, reply, done) => {
    const outcome = request.outcome;
    request.log.info(
      {
        ...outcome?.fields,
        method: request.method,
        url: request.url,
        status_code: reply.statusCode,
        response_time_ms: Math.round(reply.elapsedTime * 100) / 100,
      },
      outcome?.message ?? 'request completed',
    );
    done();
  });
}
