import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request the receiver got. */
export interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  /** The exact text sent, as a receiver verifies it. */
  body: string;
}

/** Decides the answer; the default is 204. */
export type Respond = (request: Received, res: ServerResponse) => void;

/** A plain Node HTTP server standing in for a producer's webhook endpoint. */
export interface Receiver {
  /** `http://127.0.0.1:<port>` */
  origin: string;
  port: number;
  requests: Received[];
  respond: Respond;
  /** Resolves with the `count`-th request matching `match` (counting those already in). */
  next(match: (request: Received) => boolean, count?: number): Promise<Received>;
  close(): Promise<void>;
}

export async function startReceiver(): Promise<Receiver> {
  const waiters: Array<{ match: (r: Received) => boolean; count: number; resolve: (r: Received) => void }> =
    [];
  const receiver: Receiver = {
    origin: '',
    port: 0,
    requests: [],
    respond: (_request, res) => res.writeHead(204).end(),
    next(match, count = 1) {
      const seen = receiver.requests.filter(match);
      if (seen.length >= count) return Promise.resolve(seen[count - 1] as Received);
      return new Promise((resolve) => waiters.push({ match, count, resolve }));
    },
    async close() {
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const request = {
        path: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      };
      receiver.requests.push(request);
      receiver.respond(request, res);
      for (const waiter of [...waiters]) {
        if (receiver.requests.filter(waiter.match).length === waiter.count) {
          waiters.splice(waiters.indexOf(waiter), 1);
          waiter.resolve(request);
        }
      }
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  receiver.port = (server.address() as AddressInfo).port;
  receiver.origin = `http://127.0.0.1:${receiver.port}`;
  return receiver;
}
