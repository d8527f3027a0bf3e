import type { Logger } from '@jobfleet/service-kit';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

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
 *
 * Returns the writer, for the app's one `onResponse` hook. The line holds the
 * route's outcome fields and the request line, none of them a redacted path,
 * so it is written without the logger's redaction pass, which would walk it on
 * every request for nothing.
 */
export function requestLogWriter(
  app: FastifyInstance,
): (request: FastifyRequest, reply: FastifyReply) => void {
  app.decorateRequest('outcome', null);
  // The app's logger is pino (`buildGateway`), whose children may drop the redaction.
  const lines = (app.log as Logger).child({}, { redact: [] });
  return (request, reply) => {
    // The route's level (a probe's `warn`) is the request logger's.
    if (!(request.log as Logger).isLevelEnabled('info')) return;
    const outcome = request.outcome;
    lines.info(
      {
        request_id: request.id,
        ...outcome?.fields,
        method: request.method,
        url: request.url,
        status_code: reply.statusCode,
        response_time_ms: Math.round(reply.elapsedTime * 100) / 100,
      },
      outcome?.message ?? 'request completed',
    );
  };
}
