import { jsonField, type Logger, preformattedLine } from '@jobfleet/service-kit';
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
 * Returns the writer, for the app's one `onResponse` hook. The line is
 * serialised here, field by field, and handed to the logger's output as it
 * is: it holds the route's outcome fields and the request line, none of them
 * a redacted path, and its shape is fixed, so pino's redaction pass and its
 * generic walk over an object would cost every request for nothing.
 */
export function requestLogWriter(
  app: FastifyInstance,
): (request: FastifyRequest, reply: FastifyReply) => void {
  app.decorateRequest('outcome', null);
  // The app's logger is pino (`buildGateway`).
  const write = preformattedLine(app.log as Logger, 'info');
  return (request, reply) => {
    // The route's level (a probe's `warn`) is the request logger's.
    if (!(request.log as Logger).isLevelEnabled('info')) return;
    const outcome = request.outcome;
    let fields = jsonField('request_id', request.id);
    if (outcome) for (const key in outcome.fields) fields += jsonField(key, outcome.fields[key]);
    write(
      `${fields}${jsonField('method', request.method)}${jsonField('url', request.url)},"status_code":${reply.statusCode},"response_time_ms":${Math.round(reply.elapsedTime * 100) / 100}`,
      outcome?.message ?? 'request completed',
    );
  };
}
