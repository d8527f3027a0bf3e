import { type IncomingMessage, maxHeaderSize, type Server, STATUS_CODES } from 'node:http';
import { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { FastifyError, FastifyHttpOptions, FastifyInstance } from 'fastify';
import { ConfigError, env } from './config.js';
import {
  ExpectationFailedError,
  HeadersTooLargeError,
  MalformedRequestError,
  MissingHostError,
  PROBLEM_CONTENT_TYPE,
  type Problem,
  problemFor,
  RequestTimeoutError,
} from './problem.js';

/**
 * The edges of every HTTP service (gateway, dashboard): connection timeouts
 * that close a slow client in time, Node's parser errors answered as problems,
 * the Host and Expect checks, and an early answer not followed by a reset.
 */

/**
 * The connection timeouts: headers within 10 s (Node's default is a minute, checked every 30 s, which
 * lets a slowloris client hold a connection for up to 90 s); a whole request within 30 s; idle
 * keep-alive connections kept 5 s (Node's default; Fastify's is 72 s).
 */
export const DEFAULT_HTTP_TIMEOUTS = { headersMs: 10_000, requestMs: 30_000, keepAliveMs: 5_000 } as const;

/** The keys of the connection timeouts, for the config of every HTTP service. */
export const httpEdgeConfig = {
  HTTP_HEADERS_TIMEOUT_MS: env.duration({
    default: DEFAULT_HTTP_TIMEOUTS.headersMs,
    min: 100,
    max: 600_000,
    doc: 'How long a client may take to send the request line and headers: a connection that dribbles them is closed with a 408 after this (checked every tenth of it, at most every second).',
  }),
  HTTP_REQUEST_TIMEOUT_MS: env.duration({
    default: DEFAULT_HTTP_TIMEOUTS.requestMs,
    min: 100,
    max: 3_600_000,
    doc: 'How long a client may take to send a whole request, body included; at least the headers timeout.',
  }),
  HTTP_KEEP_ALIVE_TIMEOUT_MS: env.duration({
    default: DEFAULT_HTTP_TIMEOUTS.keepAliveMs,
    min: 100,
    max: 600_000,
    doc: 'How long an idle keep-alive connection is kept open after an answer.',
  }),
};

/** The connection limits of the HTTP server (from `HTTP_*_TIMEOUT_MS`) and the body limit. */
export interface HttpEdgeLimits {
  httpHeadersTimeoutMs: number;
  httpRequestTimeoutMs: number;
  httpKeepAliveTimeoutMs: number;
  bodyLimitBytes: number;
}

/**
 * How often Node looks for connections over `headersTimeout` or `requestTimeout`:
 * a tenth of the headers timeout, at most a second, so a connection is closed
 * at most that late (Node's own default is 30 s, which would let a slow client
 * keep its connection for 40 s).
 */
export function connectionsCheckingIntervalMs(headersTimeoutMs: number): number {
  return Math.min(1_000, Math.max(50, Math.floor(headersTimeoutMs / 10)));
}

/** The least a client still sending an over-limit body may send after its answer before it is cut off. */
const MIN_DISCARD_BYTES = 1_048_576;
/** How often a lingering connection's intake is compared with its allowance: loopback clients send tens of MB in 50 ms. */
const DISCARD_CHECK_MS = 10;

/** Node's parser error, as its `clientError` event passes it. */
type ClientError = Error & { code?: string; reason?: string };

/** The problem for an error the parser (or Node's request timer) raised before any route ran. */
export function clientErrorProblem(error: ClientError): Problem {
  let problemError: FastifyError;
  if (error.code === 'HPE_HEADER_OVERFLOW') problemError = new HeadersTooLargeError(maxHeaderSize);
  else if (error.code === 'ERR_HTTP_REQUEST_TIMEOUT') problemError = new RequestTimeoutError();
  else {
    // llhttp's reason ("Invalid header value char") is fixed text: it says what was wrong, never what was sent.
    const reason = (error.reason ?? error.code ?? 'unparsable').replace(/[^\x20-\x7e]/g, '').slice(0, 120);
    problemError = new MalformedRequestError(reason);
  }
  return problemFor(problemError);
}

/**
 * For Fastify's `clientErrorHandler`: Node's parser errors (headers too large, a
 * malformed request line or header, a timeout) are answered with a problem too,
 * then the connection is closed, as Node itself does.
 */
function answerClientError(this: FastifyInstance, error: ClientError, socket: Duplex): void {
  // A reset connection has nobody left to answer.
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const problem = clientErrorProblem(error);
  this.log.debug({ code: problem.code, parser_code: error.code, status: problem.status }, problem.detail);
  // Never into a response already under way: that would corrupt what the client reads.
  const inFlight = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  if (socket.writable && !inFlight?.headersSent) {
    const body = JSON.stringify(problem);
    socket.end(
      `HTTP/1.1 ${problem.status} ${STATUS_CODES[problem.status]}\r\n` +
        `Content-Type: ${PROBLEM_CONTENT_TYPE}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
        `Connection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy();
}

/**
 * The server options of the HTTP edge: timeouts that close a connection
 * dribbling its headers within `httpHeadersTimeoutMs` (plus one check interval),
 * the parser's errors as problems, and the Host check left to
 * {@link installHttpEdges}, which answers it with a problem.
 *
 * Throws a `ConfigError` when the headers timeout exceeds the request timeout.
 */
export function httpEdgeServerOptions(limits: HttpEdgeLimits) {
  // Node refuses it too, with a message that names neither variable.
  if (limits.httpHeadersTimeoutMs > limits.httpRequestTimeoutMs) {
    throw new ConfigError([
      `HTTP_HEADERS_TIMEOUT_MS: must not exceed HTTP_REQUEST_TIMEOUT_MS (${limits.httpHeadersTimeoutMs} > ${limits.httpRequestTimeoutMs})`,
    ]);
  }
  return {
    http: {
      headersTimeout: limits.httpHeadersTimeoutMs,
      requestTimeout: limits.httpRequestTimeoutMs,
      connectionsCheckingInterval: connectionsCheckingIntervalMs(limits.httpHeadersTimeoutMs),
      requireHostHeader: false,
    },
    // Fastify sets these two on the server itself, after creating it.
    requestTimeout: limits.httpRequestTimeoutMs,
    keepAliveTimeout: limits.httpKeepAliveTimeoutMs,
    clientErrorHandler: answerClientError,
  } satisfies FastifyHttpOptions<Server>;
}

/**
 * Instead of Node's `destroySoon` after a `Connection: close` answer to a request
 * whose body is still arriving (Fastify closes after a body error, such as a
 * 413): closing at once would reset the connection while the client sends, and
 * a client that reads only once it has sent everything would see the reset, not
 * the answer. So the answer is sent with a FIN and the rest of the body is read
 * and discarded until the client has sent it, or `maxBytes` more, whichever is
 * first; the request timeout bounds the time.
 */
function lingerThenClose(socket: Socket, request: IncomingMessage, maxBytes: number): void {
  if (request.complete) {
    Socket.prototype.destroySoon.call(socket);
    return;
  }
  socket.end();
  const start = socket.bytesRead;
  const close = () => {
    clearInterval(check);
    socket.destroy();
  };
  // The parser takes the socket's data in native code, so the intake is polled, not counted per chunk.
  const check = setInterval(() => {
    if (socket.bytesRead - start > maxBytes) close();
  }, DISCARD_CHECK_MS);
  check.unref();
  request.once('end', close);
  socket.once('end', close);
  socket.once('close', () => clearInterval(check));
  request.resume();
}

/**
 * What the server options cannot do: `Host` missing from an HTTP/1.1 request and
 * an `Expect` other than `100-continue` are answered with a problem (400, 417),
 * through the usual hooks, request id and log line; an early answer to a body
 * still arriving is not followed by a reset (see {@link lingerThenClose}).
 * Install right after the request-id hook, before any hook that may refuse.
 */
export function installHttpEdges(app: FastifyInstance, limits: HttpEdgeLimits): void {
  const unmetExpectations = new WeakSet<IncomingMessage>();
  const discardBytes = Math.max(limits.bodyLimitBytes, MIN_DISCARD_BYTES);

  // Without this listener Node answers 417 itself, with no body; with it, the request goes through Fastify.
  app.server.on('checkExpectation', (request, response) => {
    unmetExpectations.add(request);
    app.server.emit('request', request, response);
  });

  // Node calls `destroySoon` after an answer on a connection it does not keep alive: the request then
  // being read is still unfinished when the answer came early (say, a 413), and its rest is drained.
  // Set once per connection, not per request: the request listener only notes the current request.
  app.server.on('connection', (socket: Socket) => {
    socket.destroySoon = () => {
      const request = current.get(socket);
      if (request && !request.complete) lingerThenClose(socket, request, discardBytes);
      else Socket.prototype.destroySoon.call(socket);
    };
  });
  const current = new WeakMap<Socket, IncomingMessage>();
  app.server.prependListener('request', (request: IncomingMessage) => {
    if (request.socket instanceof Socket) current.set(request.socket, request);
  });

  app.addHook('onRequest', (request, _reply, done) => {
    const raw = request.raw;
    if (unmetExpectations.has(raw)) {
      done(new ExpectationFailedError(String(request.headers.expect).slice(0, 80)));
    } else if (raw.httpVersion === '1.1' && request.headers.host === undefined) {
      done(new MissingHostError());
    } else {
      done();
    }
  });
}
