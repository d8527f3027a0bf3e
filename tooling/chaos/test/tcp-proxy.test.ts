import { once } from 'node:events';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { startTcpProxy } from '../src/tcp-proxy.js';

const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

/** An echo server, and a client connected to it through the proxy. */
async function echoThroughProxy() {
  const server = net.createServer((socket) => socket.pipe(socket));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  cleanup.push(() => new Promise((resolve) => server.close(resolve)));
  const { port } = server.address() as net.AddressInfo;
  const proxy = await startTcpProxy({ host: '127.0.0.1', port });
  cleanup.push(() => proxy.close());
  const client = net.connect(Number(new URL(proxy.url).port), '127.0.0.1');
  await once(client, 'connect');
  cleanup.push(() => client.destroy());
  let received = '';
  client.on('data', (chunk: Buffer) => {
    received += chunk.toString();
  });
  const receivedSoon = async (text: string) => {
    for (let i = 0; i < 100 && received !== text; i++) await new Promise((r) => setTimeout(r, 10));
    return received;
  };
  return { proxy, client, receivedSoon, received: () => received };
}

describe('the TCP proxy', () => {
  it('forwards, holds everything while blackholed without closing the connection, then delivers it in order', async () => {
    const { proxy, client, receivedSoon, received } = await echoThroughProxy();
    client.write('one ');
    expect(await receivedSoon('one ')).toBe('one ');
    proxy.blackhole();
    client.write('two ');
    client.write('three');
    // Nothing comes back while the network is cut, and the connection stays open.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(received()).toBe('one ');
    expect(client.destroyed).toBe(false);
    proxy.restore();
    expect(await receivedSoon('one two three')).toBe('one two three');
  });
});
