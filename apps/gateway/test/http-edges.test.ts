import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { RawConnection, type RawResponse, rawRequest, useTestRedis } from '@jobfleet/test-utils';
import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { PROBLEM_TYPE_BASE } from '../src/errors.js';
import { SECRETS, startGateway, testConfig } from './helpers.js';

// Real listening gateways and raw sockets: these errors happen in Node's HTTP parser and timers,
// which `inject` never reaches.
const redis = useTestRedis();
let app: FastifyInstance | undefined;

afterEach(async () => {
  await app?.close();
  app = undefined;
});

async function listening(extra: Record<string, string> = {}): Promise<number> {
  app = await startGateway(redis, { config: testConfig(redis, extra) });
  await app.listen({ host: '127.0.0.1', port: 0 });
  return (app.server.address() as AddressInfo).port;
}

function expectProblem(response: RawResponse, status: number, code: string) {
  const where = JSON.stringify(response);
  expect(response.status, where).toBe(status);
  expect(response.headers['content-type'], where).toMatch(/^application\/problem\+json/);
  const problem = JSON.parse(response.body);
  expect(problem, where).toMatchObject({ status, code });
  expect(problem.type, where).toMatch(new RegExp(`^${PROBLEM_TYPE_BASE}`));
  expect(problem.title, where).toEqual(expect.any(String));
  expect(problem.detail, where).toEqual(expect.any(String));
  return problem;
}

/** Resolves when `promise` does, or rejects after `ms`: a bound on a wait for an event, not a pause. */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

describe('errors raised below the routes are problems with a code', () => {
  const cases: [string, string, number, string][] = [
    [
      'headers over the parser limit',
      `GET /health/live HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
      431,
      'JOBFLEET_HEADERS_TOO_LARGE',
    ],
    ['a malformed request line', 'NOT A REQUEST\r\n\r\n', 400, 'JOBFLEET_MALFORMED_REQUEST'],
    [
      'a NUL in a header',
      'GET /health/live HTTP/1.1\r\nHost: x\r\nX-A: a\0b\r\n\r\n',
      400,
      'JOBFLEET_MALFORMED_REQUEST',
    ],
    [
      'both Content-Length and Transfer-Encoding',
      'POST /v1/queues/emails/jobs HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n',
      400,
      'JOBFLEET_MALFORMED_REQUEST',
    ],
    ['an HTTP/1.1 request without Host', 'GET /health/live HTTP/1.1\r\n\r\n', 400, 'JOBFLEET_MISSING_HOST'],
    [
      'an Expect other than 100-continue',
      'GET /health/live HTTP/1.1\r\nHost: x\r\nExpect: bogus\r\n\r\n',
      417,
      'JOBFLEET_EXPECTATION_FAILED',
    ],
  ];

  it.each(cases)('%s', async (_, request, status, code) => {
    const port = await listening();
    expectProblem(await rawRequest(port, request), status, code);
  });

  it('requests without those faults still pass: HTTP/1.0 without Host, Expect: 100-continue', async () => {
    const port = await listening();
    expect((await rawRequest(port, 'GET /health/live HTTP/1.0\r\n\r\n')).status).toBe(200);
    const continued = await rawRequest(
      port,
      'GET /health/live HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n\r\n',
    );
    expect(continued.status).toBe(100);
  });

  it('an unmet expectation goes through the hooks: it has a request id', async () => {
    const port = await listening();
    const response = await rawRequest(port, 'GET /health/live HTTP/1.1\r\nHost: x\r\nExpect: bogus\r\n\r\n');
    expect(response.headers['x-request-id']).toEqual(expect.any(String));
  });
});

describe('connection timeouts', () => {
  it('a connection that dribbles its headers (a byte a second) is closed, with a 408, within the headers timeout', async () => {
    const port = await listening({ HTTP_HEADERS_TIMEOUT_MS: '1000' });
    const connection = await RawConnection.open(port);
    const request = Buffer.from(`GET /health/live HTTP/1.1\r\nHost: x\r\nX-Slow: ${'a'.repeat(100)}`);
    let sent = 0;
    const started = performance.now();
    // The slow client itself: one byte now and one more every second.
    void connection.write(request.subarray(sent, ++sent));
    const drip = setInterval(() => void connection.write(request.subarray(sent, ++sent)), 1_000);
    try {
      await within(connection.closed, 4_000, 'the slow connection was not closed');
    } finally {
      clearInterval(drip);
    }
    const elapsed = performance.now() - started;
    // The timeout plus one check interval (100 ms here), with room for a busy machine.
    expect(elapsed).toBeGreaterThanOrEqual(900);
    expect(elapsed).toBeLessThan(3_000);
    expectProblem(await connection.response(), 408, 'JOBFLEET_REQUEST_TIMEOUT');
  });

  it('an idle keep-alive connection is closed after the keep-alive timeout', async () => {
    const port = await listening({ HTTP_KEEP_ALIVE_TIMEOUT_MS: '500' });
    const connection = await RawConnection.open(port);
    await connection.write('GET /health/live HTTP/1.1\r\nHost: x\r\n\r\n');
    expect((await connection.response()).status).toBe(200);
    const answered = performance.now();
    await within(connection.closed, 4_000, 'the idle connection was not closed');
    expect(performance.now() - answered).toBeLessThan(3_000);
  });

  it('a headers timeout over the request timeout is refused at start', async () => {
    expect(() => testConfig(redis, { HTTP_HEADERS_TIMEOUT_MS: '50' })).toThrow(/HTTP_HEADERS_TIMEOUT_MS/);
    await expect(
      startGateway(redis, {
        config: testConfig(redis, { HTTP_HEADERS_TIMEOUT_MS: '20s', HTTP_REQUEST_TIMEOUT_MS: '10s' }),
      }),
    ).rejects.toThrow(/HTTP_HEADERS_TIMEOUT_MS: must not exceed HTTP_REQUEST_TIMEOUT_MS/);
  });
});

describe('an over-limit body sent slowly gets its 413, not a reset', () => {
  const CHUNK = 16_384;
  const CHUNKS = 32; // 512 KiB against a 2 KiB limit
  const head = (framing: string, connection: string) =>
    'POST /v1/queues/emails/jobs HTTP/1.1\r\nHost: x\r\n' +
    `Authorization: Bearer ${SECRETS.ops}\r\nContent-Type: application/json\r\n` +
    `Connection: ${connection}\r\n${framing}\r\n\r\n`;

  it.each([
    ['Content-Length, Connection: close', 'content-length', 'close'],
    ['Content-Length, keep-alive', 'content-length', 'keep-alive'],
    ['chunked, keep-alive', 'chunked', 'keep-alive'],
  ])('%s: the client sends all of it, then reads the 413', async (_, framing, keepAlive) => {
    const port = await listening({ BODY_LIMIT_BYTES: '2048' });
    const connection = await RawConnection.open(port);
    // Like a client that reads only once it has sent its request.
    connection.socket.pause();
    const chunked = framing === 'chunked';
    await connection.write(
      head(chunked ? 'Transfer-Encoding: chunked' : `Content-Length: ${CHUNK * CHUNKS}`, keepAlive),
    );
    const chunk = Buffer.alloc(CHUNK, 'a');
    for (let i = 0; i < CHUNKS; i++) {
      await connection.write(
        chunked
          ? Buffer.concat([Buffer.from(`${CHUNK.toString(16)}\r\n`), chunk, Buffer.from('\r\n')])
          : chunk,
      );
      // Slowly: the answer is out long before the body is.
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    if (chunked) await connection.write('0\r\n\r\n');
    expect(connection.error?.code, 'the client saw its connection reset while sending').toBeUndefined();
    connection.socket.resume();
    expectProblem(await connection.response(), 413, 'FST_ERR_CTP_BODY_TOO_LARGE');
    // And the gateway closes the connection once the body is in.
    await within(connection.closed, 4_000, 'the connection was not closed');
    expect(connection.error).toBeUndefined();
  });

  it('a client that keeps sending past the allowance is cut off', async () => {
    const port = await listening({ BODY_LIMIT_BYTES: '2048' });
    const connection = await RawConnection.open(port, { allowHalfOpen: true });
    await connection.write(head(`Content-Length: ${64 * 1_048_576}`, 'close'));
    const chunk = Buffer.alloc(65_536, 'a');
    let accepted = 0;
    // Far past the allowance (1 MiB); the gateway must end it, not read all 64 MiB.
    const sending = (async () => {
      for (let i = 0; i < 1_024 && !connection.socket.destroyed; i++) {
        if (await connection.write(chunk)) accepted += chunk.length;
      }
    })();
    await within(connection.closed, 10_000, 'the connection was not closed');
    await sending;
    expectProblem(await connection.response(), 413, 'FST_ERR_CTP_BODY_TOO_LARGE');
    // The allowance plus what the two ends' socket buffers may hold: the kernel grows a receive
    // buffer up to tcp_rmem's maximum (32 MiB on Debian) and a send buffer up to tcp_wmem's.
    expect(accepted).toBeLessThan(1_048_576 + socketBufferMax('tcp_rmem') + socketBufferMax('tcp_wmem'));
    expect(accepted).toBeLessThan(64 * 1_048_576);
  });
});

/** The largest size Linux lets a TCP socket buffer grow to (`tcp_rmem`/`tcp_wmem`), or 8 MiB elsewhere. */
function socketBufferMax(name: 'tcp_rmem' | 'tcp_wmem'): number {
  try {
    return Number(readFileSync(`/proc/sys/net/ipv4/${name}`, 'utf8').trim().split(/\s+/)[2]);
  } catch {
    return 8 * 1_048_576;
  }
}
