import { createServer } from 'node:net';

/**
 * Ports already handed out by this process: the kernel may offer a port again
 * once its probe is closed, and a caller that asks for several ports at once
 * (a Redis and an app each) must not get one twice.
 */
const handedOut = new Set<number>();

/** A TCP port that was free on 127.0.0.1 a moment ago, and never handed out before by this process. */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = await probePort();
    if (!handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
}

function probePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => {
        if (address && typeof address === 'object') resolve(address.port);
        else reject(new Error('could not read the port of a probe server'));
      });
    });
  });
}
