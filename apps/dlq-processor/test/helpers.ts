import { createServer, type IncomingMessage } from 'node:http';
import { type DeadLetter, emails, toDeadLetter } from '@jobfleet/queue-contracts';
import { createLogger, createMetricsRegistry, type Logger } from '@jobfleet/service-kit';
import type { TestRedis } from '@jobfleet/test-utils';
import { createWorkerRuntime, type HandlerMap, type WorkerRuntime } from '@jobfleet/worker-runtime';
import { type Job, Queue, type Worker } from 'bullmq';
import { worker } from '../src/worker.js';

export const silent: Logger = createLogger({ service: 'test', level: 'silent' });

/** The environment every test processor gets: this test's Redis and prefix, a free port, quick passes. */
export function testEnv(redis: TestRedis): Record<string, string> {
  return {
    REDIS_URL: redis.url,
    JOBFLEET_PREFIX: redis.prefix,
    HOST: '127.0.0.1',
    METRICS_PORT: '0',
    LOG_LEVEL: 'silent',
    DLQ_RECONCILE_SETTLE_MS: '0',
    WORKER_LOCK_DURATION_MS: '1000',
    WORKER_STALLED_INTERVAL_MS: '1000',
    SHUTDOWN_TIMEOUT_MS: '5000',
  };
}

/** A DLQ processor started in this process. */
export type DlqProcessor = Awaited<ReturnType<typeof worker.start>>;

/** A DLQ processor in this process; `close()` it (or let `stopAll` do it). */
export function startProcessor(redis: TestRedis, env: Record<string, string> = {}): Promise<DlqProcessor> {
  return worker.start({ env: { ...testEnv(redis), ...env }, logger: silent });
}

/** The record of a failed `welcome` job that failed at `now`, as the worker runtime writes it. */
export function failure(jobId: string, now = Date.now()): DeadLetter {
  return toDeadLetter({
    queueName: emails.name,
    id: jobId,
    name: 'welcome',
    data: { userId: 1, to: 'user1@example.com' },
    opts: {},
    failedReason: 'always fails',
    attemptsMade: 1,
    timestamp: now - 1_000,
    finishedOn: now,
  });
}

/**
 * Resolves once `worker` has emitted `event` for `count` jobs that `accept` (default: every job).
 * Call it before the action, so that no event is missed; the runtime's own listeners (its
 * metrics) were registered earlier and so have run by then.
 */
export function workerEvents(
  worker: Worker,
  event: 'completed' | 'failed',
  count: number,
  accept: (job: Job) => boolean = () => true,
  timeoutMs = 15_000,
): Promise<void> {
  return new Promise((resolve, reject) => {
    let seen = 0;
    const timer = setTimeout(() => {
      worker.off(event, listener);
      reject(new Error(`${seen} '${event}' events, not ${count}, after ${timeoutMs} ms`));
    }, timeoutMs);
    const listener = (job: Job | undefined) => {
      if (!job || !accept(job) || ++seen < count) return;
      clearTimeout(timer);
      worker.off(event, listener);
      resolve();
    };
    worker.on(event, listener);
  });
}

/** Polls a state no event announces (counts in Redis, a scrape) until it holds. */
export async function waitFor(condition: () => Promise<boolean>, what: string, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

const always = async (): Promise<never> => {
  throw new Error('always fails');
};

/** The real worker runtime on `emails`, failing every job (or as `handlers` say). */
export async function emailWorker(
  redis: TestRedis,
  handlers: HandlerMap<typeof emails> = { welcome: always, 'password-reset': always, notification: always },
  options: { concurrency?: number; stalledIntervalMs?: number } = {},
): Promise<WorkerRuntime> {
  const runtime = createWorkerRuntime({
    contract: emails,
    handlers,
    connection: redis.connection(),
    prefix: redis.prefix,
    logger: silent,
    registry: createMetricsRegistry(),
    concurrency: options.concurrency ?? 10,
    workerOptions: { lockDuration: 1_000, stalledInterval: options.stalledIntervalMs ?? 500 },
  });
  await runtime.worker.waitUntilReady();
  return runtime;
}

/** Adds `count` welcome jobs that get one attempt; returns their ids. */
export async function addWelcomes(redis: TestRedis, count: number, from = 0): Promise<string[]> {
  const queue = new Queue(emails.name, { connection: redis.connection(), prefix: redis.prefix });
  const jobs = await queue.addBulk(
    Array.from({ length: count }, (_, i) => ({
      name: 'welcome',
      data: { userId: from + i, to: `user${from + i}@example.com` },
      opts: { ...emails.defaultJobOptions, attempts: 1, jobId: `w${from + i}` },
    })),
  );
  await queue.close();
  return jobs.map((job) => String(job.id));
}

export interface WebhookReceiver {
  url: string;
  /** Every request's JSON body, in arrival order. */
  readonly bodies: unknown[];
  readonly requests: Array<{ method: string; contentType: string | undefined }>;
  /** Resolves once `count` requests have arrived. */
  waitForRequests(count: number, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

/** A local HTTP server standing in for Slack: answers each request with the next status of `statuses`, then 200. */
export async function webhookReceiver(statuses: number[] = []): Promise<WebhookReceiver> {
  const bodies: unknown[] = [];
  const requests: Array<{ method: string; contentType: string | undefined }> = [];
  const waiters: Array<{ count: number; resolve: () => void }> = [];
  const read = (request: IncomingMessage) =>
    new Promise<string>((resolve) => {
      let body = '';
      request.setEncoding('utf8');
      request.on('data', (chunk: string) => {
        body += chunk;
      });
      request.on('end', () => resolve(body));
    });
  const server = createServer((request, response) => {
    void read(request).then((body) => {
      requests.push({ method: request.method ?? '', contentType: request.headers['content-type'] });
      bodies.push(JSON.parse(body));
      response.statusCode = statuses.shift() ?? 200;
      response.end('ok');
      for (const waiter of waiters.splice(0)) {
        if (requests.length >= waiter.count) waiter.resolve();
        else waiters.push(waiter);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = address && typeof address === 'object' ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}/hooks/dlq`,
    bodies,
    requests,
    waitForRequests(count, timeoutMs = 15_000) {
      if (requests.length >= count) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`${requests.length} webhook requests, not ${count}, after ${timeoutMs} ms`)),
          timeoutMs,
        );
        waiters.push({
          count,
          resolve: () => {
            clearTimeout(timer);
            resolve();
          },
        });
      });
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Sums one metric's samples in Prometheus text, optionally only those whose labels contain `labels`. */
export function sumMetric(text: string, name: string, labels = ''): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (labels && !line.includes(labels)) continue;
    sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}
