import { jsonField, type Logger, preformattedLine } from '@jobfleet/service-kit';
import type { FastifyBaseLogger, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Bindings, ChildLoggerOptions } from 'pino';

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

type LogCall = (...args: unknown[]) => void;

/**
 * `request.log`, made only when something logs through it. Fastify builds a
 * child logger for every request (its id bound, the route's level), but with
 * the request line written by {@link requestLogWriter} a request that goes
 * well never logs through it: building it cost about 2 % of a single-job
 * POST's CPU in a profile. The child is made at the first line; whether a
 * level is enabled is answered without it.
 */
class RequestLogger {
  readonly #parent: Logger;
  readonly #bindings: Bindings;
  readonly #options: ChildLoggerOptions;
  #child: Logger | undefined;

  constructor(parent: Logger, bindings: Bindings, options: ChildLoggerOptions) {
    this.#parent = parent;
    this.#bindings = bindings;
    this.#options = options;
  }

  #logger(): Logger {
    this.#child ??= this.#parent.child(this.#bindings, this.#options);
    return this.#child;
  }

  get level(): string {
    return this.#child?.level ?? this.#options.level ?? this.#parent.level;
  }

  isLevelEnabled(level: string): boolean {
    if (this.#child) return this.#child.isLevelEnabled(level);
    const { values } = this.#parent.levels;
    const wanted = values[level];
    const threshold = this.#options.level === undefined ? this.#parent.levelVal : values[this.#options.level];
    return wanted !== undefined && threshold !== undefined && wanted >= threshold;
  }

  fatal(...args: unknown[]): void {
    (this.#logger().fatal as LogCall)(...args);
  }
  error(...args: unknown[]): void {
    (this.#logger().error as LogCall)(...args);
  }
  warn(...args: unknown[]): void {
    (this.#logger().warn as LogCall)(...args);
  }
  info(...args: unknown[]): void {
    (this.#logger().info as LogCall)(...args);
  }
  debug(...args: unknown[]): void {
    (this.#logger().debug as LogCall)(...args);
  }
  trace(...args: unknown[]): void {
    (this.#logger().trace as LogCall)(...args);
  }
  silent(): void {}

  child(bindings: Bindings, options?: ChildLoggerOptions): Logger {
    return this.#logger().child(bindings, options);
  }
}

/** Fastify's `childLoggerFactory`: a {@link RequestLogger} in place of a child logger per request. */
export function lazyRequestLogger(
  logger: FastifyBaseLogger,
  bindings: Bindings,
  options: ChildLoggerOptions,
): FastifyBaseLogger {
  // The app's logger is pino (`buildGateway`); the class has every method Fastify checks for.
  return new RequestLogger(logger as Logger, bindings, options) as unknown as FastifyBaseLogger;
}
