import { once } from 'node:events';
import net from 'node:net';

/**
 * A TCP proxy in front of Redis that the suite controls: `blackhole()` stops
 * forwarding in both directions without closing a socket (a network partition:
 * nothing arrives, nothing fails, TCP keeps the connections open), and
 * `restore()` delivers what was held back, in order, as TCP retransmission
 * would once the partition heals.
 */
export interface TcpProxy {
  /** `redis://127.0.0.1:<port>` of the proxy. */
  readonly url: string;
  blackhole(): void;
  restore(): void;
  close(): Promise<void>;
}

export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  let blackholed = false;
  /** Held-back writes, in order, across every connection. */
  const held: Array<() => void> = [];
  const sockets = new Set<net.Socket>();

  const forward = (from: net.Socket, to: net.Socket) => {
    from.on('data', (chunk: Buffer) => {
      if (blackholed) held.push(() => to.write(chunk));
      else to.write(chunk);
    });
    from.on('close', () => {
      if (blackholed) held.push(() => to.destroy());
      else to.destroy();
    });
    from.on('error', () => {});
  };

  const server = net.createServer((client) => {
    const upstream = net.connect(target);
    sockets.add(client).add(upstream);
    client.on('close', () => sockets.delete(client));
    upstream.on('close', () => sockets.delete(upstream));
    forward(client, upstream);
    forward(upstream, client);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `redis://127.0.0.1:${port}`,
    blackhole() {
      blackholed = true;
    },
    restore() {
      blackholed = false;
      for (const write of held.splice(0)) write();
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
