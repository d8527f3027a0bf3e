import { type AddressInfo, connect, createServer, type Socket } from 'node:net';

/**
 * A TCP proxy in front of Redis that can freeze a client process at an exact
 * point: once armed with a marker, it forwards the first client command that
 * contains the marker (e.g. the delivery ledger's key) and then holds back
 * every later byte from every client, while Redis's replies still flow. The
 * process behind it is stuck right after that command — the point a test
 * wants to `kill -9` it at — however fast it is.
 */
export interface RedisGate {
  /** `redis://127.0.0.1:<port>`: give this to the process under test. */
  readonly url: string;
  /** Freeze after the next client command containing `marker`. */
  arm(marker: string): void;
  /** Resolves once the gate has frozen. */
  readonly frozen: Promise<void>;
  close(): Promise<void>;
}

export async function startRedisGate(upstreamUrl: string): Promise<RedisGate> {
  const upstream = new URL(upstreamUrl);
  const sockets = new Set<Socket>();
  let marker: Buffer | undefined;
  let isFrozen = false;
  let onFrozen = () => {};
  const frozen = new Promise<void>((resolve) => {
    onFrozen = resolve;
  });

  const server = createServer((client) => {
    const redis = connect(Number(upstream.port), upstream.hostname);
    sockets.add(client);
    sockets.add(redis);
    const end = () => {
      client.destroy();
      redis.destroy();
      sockets.delete(client);
      sockets.delete(redis);
    };
    client.on('error', end).on('close', end);
    redis.on('error', end).on('close', end);
    redis.on('data', (chunk: Buffer) => client.write(chunk));
    client.on('data', (chunk: Buffer) => {
      if (isFrozen) return; // held back for good: the process is about to be killed
      redis.write(chunk);
      if (marker && chunk.includes(marker)) {
        isFrozen = true;
        onFrozen();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `redis://127.0.0.1:${port}`,
    arm(value) {
      marker = Buffer.from(value);
    },
    frozen,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
