/**
 * docker/healthcheck.mjs, the image's HEALTHCHECK: it finds an app's port in
 * the fleet manifest next to it (the Dockerfile copies both to one place).
 */
import { spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DOCKER_DIR } from './support/paths.js';

const dir = mkdtempSync(join(tmpdir(), 'jobfleet-healthcheck-'));
let server: Server;
let port = 0;

/** Runs the healthcheck as the image does; resolves with its exit code and stderr. */
function healthcheck(env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(dir, 'healthcheck.mjs')], {
      env: { PATH: process.env.PATH ?? '', ...env },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code, stderr }));
  });
}

beforeAll(async () => {
  server = createServer((request, response) => {
    response.statusCode = request.url === '/health/live' ? 200 : 404;
    response.end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
  copyFileSync(join(DOCKER_DIR, 'healthcheck.mjs'), join(dir, 'healthcheck.mjs'));
  // A manifest as the image holds it, with the test server's port as the worker's default.
  writeFileSync(
    join(dir, 'fleet.json'),
    JSON.stringify({
      apps: [
        { name: 'invoices-worker', kind: 'worker', port, team: 'billing', queues: ['invoices'] },
        { name: 'gateway', kind: 'http', port: 1, team: 'platform', queues: [] },
      ],
    }),
  );
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  rmSync(dir, { recursive: true, force: true });
});

describe('healthcheck.mjs', () => {
  it('checks an app on its port from fleet.json when the port variable is unset', async () => {
    expect(await healthcheck({ JOBFLEET_APP: 'invoices-worker' })).toEqual({ code: 0, stderr: '' });
  });

  it("prefers the app's port variable: PORT for http apps", async () => {
    expect((await healthcheck({ JOBFLEET_APP: 'gateway', PORT: String(port) })).code).toBe(0);
    // The manifest's port 1 answers nothing.
    expect((await healthcheck({ JOBFLEET_APP: 'gateway' })).code).toBe(1);
  });

  it('fails with a message for an app the manifest does not know and no port', async () => {
    const result = await healthcheck({ JOBFLEET_APP: 'nope' });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('healthcheck: no port for app "nope" (not in fleet.json');
  });
});
