import type { AddressInfo } from 'node:net';
import { PROBLEM_TYPE_BASE } from '@jobfleet/service-kit';
import { rawRequest, useTestRedis } from '@jobfleet/test-utils';
import { afterEach, describe, expect, it } from 'vitest';
import { asUser, login, startDashboard } from './helpers.js';

// Real listening dashboards and raw sockets: these errors happen in Node's HTTP parser, which
// `inject` never reaches.
const redis = useTestRedis();
let close: (() => Promise<void>) | undefined;

afterEach(async () => {
  await close?.();
  close = undefined;
});

async function listening(): Promise<number> {
  const dashboard = await startDashboard(redis);
  close = dashboard.close;
  await dashboard.app.listen({ host: '127.0.0.1', port: 0 });
  return (dashboard.app.server.address() as AddressInfo).port;
}

function expectProblem(
  response: { status: number; headers: Record<string, unknown>; body: string },
  status: number,
  code: string,
) {
  const where = JSON.stringify(response);
  expect(response.status, where).toBe(status);
  expect(String(response.headers['content-type']), where).toMatch(/^application\/problem\+json/);
  const problem = JSON.parse(response.body);
  expect(problem, where).toMatchObject({ status, code });
  expect(problem.type, where).toMatch(new RegExp(`^${PROBLEM_TYPE_BASE}`));
  expect(problem.title, where).toEqual(expect.any(String));
  expect(problem.detail, where).toEqual(expect.any(String));
  return problem;
}

describe('every dashboard error is a problem with a code', () => {
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
    ['an HTTP/1.1 request without Host', 'GET /health/live HTTP/1.1\r\n\r\n', 400, 'JOBFLEET_MISSING_HOST'],
    [
      'an Expect other than 100-continue',
      'GET /health/live HTTP/1.1\r\nHost: x\r\nExpect: bogus\r\n\r\n',
      417,
      'JOBFLEET_EXPECTATION_FAILED',
    ],
    [
      'a malformed percent-encoding in the path',
      'GET /admin/queues/api/queues/%E0%A4%A HTTP/1.1\r\nHost: x\r\n\r\n',
      400,
      'FST_ERR_BAD_URL',
    ],
  ];

  it.each(cases)('%s', async (_, request, status, code) => {
    const port = await listening();
    expectProblem(await rawRequest(port, request), status, code);
  });

  it('an unknown route, a body of an unsupported type, a login form over the limit, a bull-board refusal', async () => {
    const dashboard = await startDashboard(redis);
    close = dashboard.close;
    const { app } = dashboard;
    const cookie = await login(app, 'ops');
    const missing = await app.inject({ method: 'GET', url: '/no/such/page', headers: asUser(cookie) });
    expectProblem(
      { status: missing.statusCode, headers: missing.headers, body: missing.body },
      404,
      'JOBFLEET_ROUTE_NOT_FOUND',
    );
    const unsupported = await app.inject({
      method: 'POST',
      url: '/login',
      headers: { 'content-type': 'text/csv', origin: 'http://localhost' },
      payload: 'a,b',
    });
    expectProblem(
      { status: unsupported.statusCode, headers: unsupported.headers, body: unsupported.body },
      415,
      'FST_ERR_CTP_INVALID_MEDIA_TYPE',
    );
    const large = await app.inject({
      method: 'POST',
      url: '/login',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: 'http://localhost' },
      payload: `username=${'a'.repeat(20_000)}`,
    });
    expectProblem(
      { status: large.statusCode, headers: large.headers, body: large.body },
      413,
      'FST_ERR_CTP_BODY_TOO_LARGE',
    );
  });
});
