import { once } from 'node:events';
import net from 'node:net';

/** A response read off a raw socket. */
export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Parses the first complete response in `text`, or undefined while it is incomplete. */
export function parseResponse(text: string): RawResponse | undefined {
  const end = text.indexOf('\r\n\r\n');
  if (end < 0) return undefined;
  const [statusLine = '', ...lines] = text.slice(0, end).split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  const status = Number(statusLine.split(' ')[1]);
  const rest = text.slice(end + 4);
  if (headers['transfer-encoding'] === 'chunked') {
    let body = '';
    let at = 0;
    for (;;) {
      const lineEnd = rest.indexOf('\r\n', at);
      if (lineEnd < 0) return undefined;
      const size = Number.parseInt(rest.slice(at, lineEnd), 16);
      if (size === 0) return rest.length >= lineEnd + 4 ? { status, headers, body } : undefined;
      if (rest.length < lineEnd + 2 + size + 2) return undefined;
      body += rest.slice(lineEnd + 2, lineEnd + 2 + size);
      at = lineEnd + 2 + size + 2;
    }
  }
  const length = Number(headers['content-length'] ?? 0);
  return rest.length >= length ? { status, headers, body: rest.slice(0, length) } : undefined;
}

/** A raw connection that collects what the server sends and notes when it closes. */
export class RawConnection {
  readonly socket: net.Socket;
  received = '';
  /** Set when the socket closed, with the error it closed with, if any. */
  error: NodeJS.ErrnoException | undefined;
  readonly closed: Promise<void>;
  private readonly waiters = new Set<() => void>();

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => {
      this.received += chunk.toString('latin1');
      for (const wake of this.waiters) wake();
    });
    socket.on('error', (error) => {
      this.error = error;
    });
    // Not `once(socket, 'close')`, which rejects on the 'error' before it.
    this.closed = new Promise((resolve) => {
      socket.once('close', () => {
        for (const wake of this.waiters) wake();
        resolve();
      });
    });
  }

  /** With `allowHalfOpen`, the connection goes on sending after the server's FIN, as a client that is not reading does. */
  static async open(port: number, { allowHalfOpen = false } = {}): Promise<RawConnection> {
    const socket = net.connect({ port, host: '127.0.0.1', allowHalfOpen });
    await once(socket, 'connect');
    return new RawConnection(socket);
  }

  /** Writes `data`; resolves whether it was handed to the kernel (false at once if the socket is gone). */
  write(data: string | Buffer): Promise<boolean> {
    if (this.socket.destroyed || !this.socket.writable) return Promise.resolve(false);
    return new Promise((resolve) => this.socket.write(data, (error) => resolve(!error)));
  }

  /** The first response, as soon as it is complete; throws if the socket closes without one. */
  async response(): Promise<RawResponse> {
    for (;;) {
      const parsed = parseResponse(this.received);
      if (parsed) return parsed;
      if (this.socket.destroyed) {
        throw new Error(
          `closed without a complete response (${this.error?.code ?? 'no error'}): ${JSON.stringify(this.received.slice(0, 300))}`,
        );
      }
      await new Promise<void>((resolve) => {
        const wake = () => {
          this.waiters.delete(wake);
          resolve();
        };
        this.waiters.add(wake);
      });
    }
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/** Sends `request` on a fresh connection and reads the first response. */
export async function rawRequest(port: number, request: string | Buffer): Promise<RawResponse> {
  const connection = await RawConnection.open(port);
  try {
    await connection.write(request);
    return await connection.response();
  } finally {
    connection.destroy();
  }
}
