import { EventEmitter } from 'node:events';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request the endpoint received, its body as sent (for signature checks). */
export interface ReceivedRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  readonly raw: string;
  readonly body: { id: string; queue: string; name: string; data: unknown; attempt: number };
  /** When the answer was started (for Retry-After checks). */
  answeredAt?: number;
}

/** How a test answers one request; `answer` may leave the response open. */
export type Responder = (request: ReceivedRequest, res: ServerResponse, req: IncomingMessage) => void;

export interface TestEndpoint {
  readonly url: string;
  readonly requests: ReceivedRequest[];
  /** Emits `request` (ReceivedRequest) for each request, once its body is read. */
  readonly events: EventEmitter;
  respond: Responder;
  /** Resolves with the next request (past ones do not count). */
  nextRequest(): Promise<ReceivedRequest>;
  close(): Promise<void>;
}

/** Answers `status` with `body` as JSON (or as is, when a string). */
export function answer(
  res: ServerResponse,
  status: number,
  body?: unknown,
  headers: Record<string, string> = {},
) {
  const text = body === undefined ? '' : typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(text);
}

/** A real HTTP endpoint on 127.0.0.1 that records every request and answers with `respond`. */
export async function startTestEndpoint(respond: Responder): Promise<TestEndpoint> {
  const events = new EventEmitter();
  const requests: ReceivedRequest[] = [];
  const endpoint = { respond } as { respond: Responder };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      let body: ReceivedRequest['body'];
      try {
        body = JSON.parse(raw) as ReceivedRequest['body'];
      } catch {
        body = { id: '', queue: '', name: '', data: raw, attempt: 0 };
      }
      const received: ReceivedRequest = {
        method: req.method ?? '',
        path: req.url ?? '',
        headers: req.headers,
        raw,
        body,
      };
      requests.push(received);
      events.emit('request', received);
      received.answeredAt = Date.now();
      endpoint.respond(received, res, req);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/jobs`,
    requests,
    events,
    get respond() {
      return endpoint.respond;
    },
    set respond(value: Responder) {
      endpoint.respond = value;
    },
    nextRequest: () => new Promise((resolve) => events.once('request', resolve)),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
