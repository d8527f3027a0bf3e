import { hostileRequests, rawRequest } from '@jobfleet/test-utils';
import { enqueue, recipientOf, Tally } from '../client.js';
import { API_KEY } from '../fleet.js';
import { type Scenario, startCast } from './setup.js';

/** Requests Node's HTTP parser refuses before any route runs. */
const PARSER_LEVEL = [
  'NOT A REQUEST\r\n\r\n',
  'GET /health/live HTTP/1.1\r\nHost: x\r\nX-A: a\0b\r\n\r\n',
  'POST /v1/queues/emails/jobs HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n',
  'GET /health/live HTTP/1.1\r\n\r\n',
  'GET /health/live HTTP/1.1\r\nHost: x\r\nExpect: bogus\r\n\r\n',
  `GET /health/live HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
  'GET /%%%/ HTTP/1.1\r\nHost: x\r\n\r\n',
  'POST /v1/queues/emails/jobs HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n',
];

const CONCURRENCY = 16;

export const hostileHttp: Scenario = {
  name: 'hostile HTTP requests',
  description:
    "The gateway's generator of malformed and hostile bodies (wrong types, huge numbers, deep nesting, bad UTF-8, prototype-pollution keys, broken JSON, wrong content types) and requests Node's parser refuses (a malformed request line, a NUL in a header, a missing Host, `Expect`, oversized headers), over raw sockets, 16 at a time. Every answer must be a 4xx problem+json, nothing may be enqueued, and the gateway must then still accept a job.",
  ci: true,
  async run(context) {
    const { profile } = context;
    const cast = await startCast(context);
    const port = cast.gateway.port;
    const bodies = hostileRequests(20_261_206, profile.hostileRequests).map((r) => {
      const payload = Buffer.isBuffer(r.payload) ? r.payload : Buffer.from(r.payload);
      const head =
        `${r.method} ${r.url} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${API_KEY}\r\n` +
        `Content-Type: ${r.contentType}\r\nContent-Length: ${payload.length}\r\nConnection: close\r\n\r\n`;
      return { kind: r.kind, request: Buffer.concat([Buffer.from(head), payload]) };
    });
    const parser = Array.from({ length: Math.ceil(profile.hostileRequests / 20) }, (_, i) => {
      const request = PARSER_LEVEL[i % PARSER_LEVEL.length] ?? '';
      return { kind: `parser: ${JSON.stringify(request.slice(0, 40))}`, request: Buffer.from(request) };
    });
    const requests = [...bodies, ...parser];
    const tally = new Tally();
    const wrong = new Map<string, string>();
    let next = 0;
    const client = async () => {
      for (;;) {
        const item = requests[next++];
        if (!item) return;
        const started = performance.now();
        try {
          const response = await rawRequest(port, item.request);
          tally.slowestMs = Math.max(tally.slowestMs, performance.now() - started);
          tally.count(String(response.status));
          if (response.status >= 500)
            tally.serverErrors.push(`${item.kind}: ${response.status} ${response.body}`);
          else if (response.status < 400) wrong.set(item.kind, `${response.status}`);
          else if (!/^application\/problem\+json/.test(response.headers['content-type'] ?? '')) {
            wrong.set(
              item.kind,
              `${response.status} ${response.headers['content-type'] ?? 'no content type'}`,
            );
          }
        } catch (error) {
          tally.slowestMs = Math.max(tally.slowestMs, performance.now() - started);
          wrong.set(item.kind, `no answer: ${(error as Error).message.slice(0, 100)}`);
        }
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, client));
    const statuses = [...tally.answers].map(([s, n]) => `${n}× ${s}`).join(', ');
    const queued = await cast.emails.getJobCounts('waiting', 'active', 'completed', 'failed', 'delayed');
    const enqueuedByHostility = Object.values(queued).reduce((a, b) => a + b, 0);
    // Still serving: one real job, with the usual retries.
    const after = new Tally();
    await enqueue('hostile-after', cast.client(), after);
    for (const [label] of after.answers) tally.count(label);
    const result = await cast.settle(after);
    result.serverErrors += tally.serverErrors.length;
    result.slowestMs = Math.max(result.slowestMs, tally.slowestMs);
    result.notes.unshift(`${requests.length} hostile requests: ${statuses}`);
    if (!cast.sink.received.has(recipientOf('hostile-after')))
      result.failures.push('no job accepted after them');
    if (enqueuedByHostility > 0)
      result.failures.push(`${enqueuedByHostility} jobs enqueued by hostile requests`);
    for (const [kind, what] of [...wrong].slice(0, 5)) result.failures.push(`${kind} → ${what}`);
    if (wrong.size > 5) result.failures.push(`… ${wrong.size - 5} more kinds answered wrongly`);
    for (const error of tally.serverErrors.slice(0, 3)) result.notes.push(`5xx: ${error.slice(0, 200)}`);
    return result;
  },
};
