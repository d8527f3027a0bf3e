import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, makeTestCertificates, type RedisServer, startRedisServer } from '@jobfleet/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  commonConfig,
  createRedisConnection,
  loadConfig,
  type RedisClient,
  redisTopology,
  waitUntilConnected,
} from '../src/index.js';

describe('a standalone Redis over TLS with a password', () => {
  let dir: string;
  let server: RedisServer;
  let tlsPort: number;
  let ca: string;
  const clients: RedisClient[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'jobfleet-tls-'));
    const files = makeTestCertificates(dir);
    ca = files.ca;
    tlsPort = await freePort();
    writeFileSync(join(dir, 'password'), 'tls-secret\n');
    // Only the TLS port listens (`--port 0`), so a plain connection has nowhere to go.
    server = await startRedisServer({
      args: [
        '--port',
        '0',
        '--tls-port',
        String(tlsPort),
        '--tls-cert-file',
        files.cert,
        '--tls-key-file',
        files.key,
        '--tls-ca-cert-file',
        files.ca,
        '--tls-auth-clients',
        'no',
        '--requirepass',
        'tls-secret',
      ],
    });
  }, 60_000);

  afterAll(async () => {
    for (const client of clients) client.disconnect();
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const connect = (env: Record<string, string>) => {
    const client = createRedisConnection({
      redis: redisTopology(loadConfig(commonConfig, env)),
      flavour: 'producer',
    });
    clients.push(client);
    return client;
  };

  it('connects with REDIS_URL rediss://, REDIS_TLS_CA_FILE and REDIS_PASSWORD_FILE, and works', async () => {
    const client = connect({
      REDIS_URL: `rediss://127.0.0.1:${tlsPort}`,
      REDIS_TLS_CA_FILE: ca,
      REDIS_PASSWORD_FILE: join(dir, 'password'),
    });
    await waitUntilConnected(client);
    await client.set('jobfleet:tls-probe', 'ok');
    expect(await client.get('jobfleet:tls-probe')).toBe('ok');
  });

  it('connects with REDIS_TLS=true on a redis:// URL and the password in the URL', async () => {
    const client = connect({
      REDIS_URL: `redis://:tls-secret@127.0.0.1:${tlsPort}`,
      REDIS_TLS: 'true',
      REDIS_TLS_CA_FILE: ca,
    });
    await waitUntilConnected(client);
    expect(await client.ping()).toBe('PONG');
  });

  it('refuses a server whose certificate the CAs do not vouch for, and a wrong password', async () => {
    const untrusted = connect({ REDIS_URL: `rediss://127.0.0.1:${tlsPort}`, REDIS_PASSWORD: 'tls-secret' });
    const certificateError = await new Promise<Error>((resolve) => untrusted.once('error', resolve));
    expect(certificateError.message).toMatch(/certificate/i);
    const wrong = connect({
      REDIS_URL: `rediss://127.0.0.1:${tlsPort}`,
      REDIS_TLS_CA_FILE: ca,
      REDIS_PASSWORD: 'nope',
    });
    const authError = await new Promise<Error>((resolve) => wrong.once('error', resolve));
    expect(authError.message).toMatch(/WRONGPASS|invalid username-password/);
  });
});
