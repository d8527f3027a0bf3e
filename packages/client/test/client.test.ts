import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { deleteKeys, ensureBuilt, freePort, type ServiceProcess, spawnService } from '@jobfleet/test-utils';
import type {} from '@jobfleet/test-utils/global-setup';
import { Queue, UnrecoverableError, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createClient, JobfleetError } from '../src/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const gatewayDir = join(here, '../../../apps/gateway');
const API_KEY = 'client-test-secret-0123456789';
const redisUrl = inject('redisUrl');
const prefix = `client-${randomUUID().slice(0, 8)}`;
const admin = new Redis(redisUrl, { maxRetriesPerRequest: null });
const opened: { close(): Promise<unknown> }[] = [];

let port: number;
let gateway: ServiceProcess;
let baseUrl: string;

/** Starts the built gateway as its own process on `port`. */
async function startGateway(): Promise<ServiceProcess> {
  const service = spawnService({
    name: 'the gateway',
    cwd: gatewayDir,
    main: 'dist/main.js',
    env: {
      REDIS_URL: redisUrl,
      JOBFLEET_PREFIX: prefix,
      PORT: String(port),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'info',
      RATE_LIMIT_MAX: '1000000',
      GATEWAY_API_KEYS: JSON.stringify([{ id: 'client-test', key: API_KEY, scopes: ['admin'] }]),
    },
  });
  await service.waitForLog((line) => line.msg === 'gateway listening');
  return service;
}

const jobsIn = async (name: string) => {
  const queue = new Queue(name, { connection: admin, prefix });
  const counts = await queue.getJobCounts();
  await queue.close();
  return Object.values(counts).reduce((sum, n) => sum + n, 0);
};

beforeAll(async () => {
  ensureBuilt(gatewayDir);
  port = await freePort();
  baseUrl = `http://127.0.0.1:${port}`;
  gateway = await startGateway();
  // Building the gateway first may take a while on a busy machine.
}, 180_000);

afterAll(async () => {
  for (const item of opened.splice(0).reverse()) await item.close();
  await gateway?.stop();
  await deleteKeys(admin, prefix);
  await admin.quit();
});

const welcome = { userId: 7, to: 'ada@example.com', name: 'Ada' };

describe('@jobfleet/client against a real gateway', () => {
  it('enqueues a welcome e-mail and waits for it to finish', async () => {
    const worker = new Worker('emails', async (job) => ({ messageId: `m-${job.id}`, transport: 'outbox' }), {
      connection: new Redis(redisUrl, { maxRetriesPerRequest: null }),
      prefix,
    });
    opened.push(worker);
    const client = createClient({ baseUrl, apiKey: API_KEY });
    const accepted = await client.enqueue('emails', 'welcome', welcome);
    expect(accepted).toMatchObject({ queue: 'emails', name: 'welcome', duplicate: false });
    const job = await client.waitFor('emails', accepted.id, { timeoutMs: 20_000 });
    expect(job).toMatchObject({ id: accepted.id, state: 'completed', data: welcome });
    expect(job.result).toEqual({ messageId: `m-${accepted.id}`, transport: 'outbox' });
    await worker.close();
  });

  it('enqueues a batch, reads and cancels jobs, and replays a repeated Idempotency-Key', async () => {
    const client = createClient({ baseUrl, apiKey: API_KEY });
    const batch = await client.enqueueBatch('reports', [
      { name: 'daily-report', data: { tenantId: 'acme', date: '2025-01-31', format: 'csv' } },
      { name: 'daily-report', data: { tenantId: 'acme', date: '2025-02-01', format: 'pdf' } },
    ]);
    expect(batch.jobs).toHaveLength(2);
    const [first] = batch.jobs;
    if (!first) throw new Error('no job');
    const job = await client.getJob('reports', first.id);
    expect(job).toMatchObject({ id: first.id, name: 'daily-report', state: 'waiting' });
    expect(await client.cancel('reports', first.id)).toEqual({ state: 'removed' });

    const key = randomUUID();
    const once = await client.enqueue('emails', 'welcome', welcome, { idempotencyKey: key, delay: 60_000 });
    const again = await client.enqueue('emails', 'welcome', welcome, { idempotencyKey: key, delay: 60_000 });
    expect(again).toEqual({ ...once, duplicate: true });
  });

  it('a wait that times out rejects with JOBFLEET_WAIT_TIMEOUT; a failed job resolves as failed', async () => {
    const client = createClient({ baseUrl, apiKey: API_KEY });
    const { id } = await client.enqueue('emails', 'welcome', welcome, { delay: 60_000 });
    const timedOut = await client.waitFor('emails', id, { timeoutMs: 100 }).catch((error: unknown) => error);
    expect(timedOut).toBeInstanceOf(JobfleetError);
    expect(timedOut).toMatchObject({ code: 'JOBFLEET_WAIT_TIMEOUT' });
    await client.cancel('emails', id);

    const worker = new Worker(
      'emails',
      async () => {
        throw new UnrecoverableError('mailbox does not exist');
      },
      { connection: new Redis(redisUrl, { maxRetriesPerRequest: null }), prefix },
    );
    opened.push(worker);
    const failing = await client.enqueue('emails', 'welcome', welcome);
    const job = await client.waitFor('emails', failing.id, { timeoutMs: 20_000 });
    expect(job).toMatchObject({ state: 'failed', failedReason: 'mailbox does not exist' });
    await worker.close();
  });

  it('throws a JobfleetError with the problem: status, code and errors', async () => {
    const client = createClient({ baseUrl, apiKey: API_KEY });
    // Past the types, as a JavaScript caller could.
    const invalid = await client
      .enqueue('emails', 'welcome', { userId: 1 } as never)
      .catch((error: unknown) => error);
    expect(invalid).toBeInstanceOf(JobfleetError);
    expect(invalid).toMatchObject({ status: 400, errors: [{ path: '/data/to' }] });
    const missing = await client.getJob('emails', 'no-such-job').catch((error: unknown) => error);
    expect(missing).toMatchObject({ status: 404, code: 'JOBFLEET_JOB_NOT_FOUND' });
    const wrongKey = createClient({ baseUrl, apiKey: 'not-a-key-0123456789' });
    await expect(wrongKey.getJob('emails', '1')).rejects.toMatchObject({
      status: 401,
      code: 'JOBFLEET_UNAUTHORIZED',
    });
  });
});

/**
 * A TCP proxy to the gateway that, once, lets a request through and then cuts
 * the connection as the answer comes back: the write landed, the client never
 * heard of it.
 */
async function responseDroppingProxy(
  target: number,
): Promise<{ port: number; dropped: () => number } & { close(): Promise<void> }> {
  let drops = 1;
  let dropped = 0;
  const sockets = new Set<Socket>();
  const server: Server = createServer((client: Socket) => {
    const upstream = connect(target, '127.0.0.1');
    sockets.add(client).add(upstream);
    client.pipe(upstream);
    upstream.on('data', (chunk: Buffer) => {
      if (drops > 0) {
        drops--;
        dropped++;
        client.destroy();
        upstream.destroy();
        return;
      }
      client.write(chunk);
    });
    upstream.on('end', () => client.end());
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no proxy address');
  return {
    port: address.port,
    dropped: () => dropped,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe('retries', () => {
  it('a retried enqueue whose first answer was lost makes one job, not two', async () => {
    const before = await jobsIn('emails');
    const proxy = await responseDroppingProxy(port);
    opened.push(proxy);
    const client = createClient({ baseUrl: `http://127.0.0.1:${proxy.port}`, apiKey: API_KEY });
    const accepted = await client.enqueue('emails', 'welcome', welcome, { delay: 60_000 });
    expect(proxy.dropped()).toBe(1);
    // The first try made the job; the retry got it back as a replay.
    expect(accepted.duplicate).toBe(true);
    expect(await jobsIn('emails')).toBe(before + 1);
  });

  it('a retried enqueue through a gateway restart makes one job', async () => {
    const before = await jobsIn('emails');
    await gateway.stop();
    const client = createClient({
      baseUrl,
      apiKey: API_KEY,
      retry: { maxElapsedMs: 60_000, maxAttempts: 100 },
    });
    const pending = client.enqueue('emails', 'welcome', welcome, { delay: 60_000 });
    gateway = await startGateway();
    const accepted = await pending;
    expect(accepted.duplicate).toBe(false);
    expect(await jobsIn('emails')).toBe(before + 1);
  });

  it('honours Retry-After on 429 and 503, within the time budget', async () => {
    let calls = 0;
    const keys: (string | null)[] = [];
    const fakeFetch: typeof fetch = async (_url, init) => {
      calls++;
      keys.push(new Headers(init?.headers).get('idempotency-key'));
      if (calls === 1) {
        return new Response(
          JSON.stringify({ status: 429, code: 'JOBFLEET_RATE_LIMITED', detail: 'slow down' }),
          {
            status: 429,
            headers: { 'content-type': 'application/problem+json', 'retry-after': '0' },
          },
        );
      }
      if (calls === 2) {
        return new Response(JSON.stringify({ status: 504, code: 'JOBFLEET_OUTCOME_UNKNOWN', detail: '?' }), {
          status: 504,
          headers: { 'content-type': 'application/problem+json', 'retry-after': '0' },
        });
      }
      return new Response(JSON.stringify({ id: '1', queue: 'emails', name: 'welcome', duplicate: false }), {
        status: 202,
      });
    };
    const client = createClient({ baseUrl, apiKey: API_KEY, fetch: fakeFetch, retry: { baseDelayMs: 1 } });
    await client.enqueue('emails', 'welcome', welcome);
    expect(calls).toBe(3);
    expect(new Set(keys).size).toBe(1);
    expect(keys[0]).toMatch(/^[0-9a-f-]{36}$/);

    // A Retry-After beyond the budget: no retry, the answer is the error.
    const busy: typeof fetch = async () =>
      new Response(JSON.stringify({ status: 503, code: 'JOBFLEET_REDIS_FULL', detail: 'full' }), {
        status: 503,
        headers: { 'retry-after': '30' },
      });
    const bounded = createClient({ baseUrl, apiKey: API_KEY, fetch: busy, retry: { maxElapsedMs: 1_000 } });
    await expect(bounded.enqueue('emails', 'welcome', welcome)).rejects.toMatchObject({
      status: 503,
      code: 'JOBFLEET_REDIS_FULL',
      retryAfterMs: 30_000,
    });
  });
});

describe('the built package', () => {
  it('has no runtime import of the server packages or the contracts', () => {
    ensureBuilt(join(here, '..'), { outputs: ['dist/index.js'] });
    const dist = join(here, '../dist');
    for (const file of readdirSync(dist).filter((name) => name.endsWith('.js'))) {
      const code = readFileSync(join(dist, file), 'utf8');
      const imports = [...code.matchAll(/from\s+'([^']+)'/g)].map((match) => match[1]);
      expect(
        imports.filter((specifier) => !specifier?.startsWith('./') && !specifier?.startsWith('node:')),
        file,
      ).toEqual([]);
    }
  });
});
