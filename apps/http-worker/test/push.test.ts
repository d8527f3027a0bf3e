import { randomUUID } from 'node:crypto';
import {
  CANCELLED_REASON,
  cancelChannel,
  cancelMarkerKey,
  deadLetters,
  emails,
  reports,
} from '@jobfleet/queue-contracts';
import { generateWebhookSecret } from '@jobfleet/service-kit';
import { freePort, useTestRedis } from '@jobfleet/test-utils';
import { type Job, type JobsOptions, Queue, QueueEvents } from 'bullmq';
import { Webhook } from 'standardwebhooks';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { type InProcessWorker, startInProcessWorker } from './start-worker.js';
import { answer, type Responder, startTestEndpoint, type TestEndpoint } from './test-endpoint.js';

const redis = useTestRedis();
const secret = generateWebhookSecret();
const welcome = { userId: 7, to: 'ada@example.com', name: 'Ada' };
const sent = { messageId: '<1@example.com>', transport: 'smtp' };
const ok: Responder = (_request, res) => answer(res, 200, sent);

const cleanup: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step().catch(() => {});
});

async function endpoint(respond: Responder = ok): Promise<TestEndpoint> {
  const started = await startTestEndpoint(respond);
  cleanup.push(() => started.close());
  return started;
}

/** The worker on `emails` (and any queues `env` adds) against `url`, with a queue, its events and the DLQ. */
async function setup(url: string, env: Record<string, string> = {}) {
  const worker: InProcessWorker = await startInProcessWorker({
    redisUrl: redis.url,
    prefix: redis.prefix,
    env: { HTTP_WORKER_QUEUES: 'emails', HTTP_WORKER_URL: url, HTTP_WORKER_SECRET: secret, ...env },
  });
  cleanup.push(() => worker.close());
  const connection = redis.connection();
  const queue = new Queue(emails.name, { connection, prefix: redis.prefix });
  const dlq = new Queue(deadLetters.name, { connection, prefix: redis.prefix });
  const events = new QueueEvents(emails.name, { connection: { url: redis.url }, prefix: redis.prefix });
  await events.waitUntilReady();
  cleanup.push(
    () => queue.close(),
    () => dlq.close(),
    () => events.close(),
  );
  /** Adds a job with the contract's options, retries 10 ms apart unless `options` says otherwise. */
  const add = (data: unknown = welcome, options: JobsOptions = {}, name = 'welcome') =>
    queue.add(name, data, {
      ...emails.defaultJobOptions,
      backoff: { type: 'fixed', delay: 10 },
      jobId: randomUUID(),
      ...options,
    });
  /** Waits for the job to end; resolves with it reloaded. */
  const finished = async (job: Job) => {
    await job.waitUntilFinished(events, 15_000).catch(() => {});
    return (await queue.getJob(job.id ?? '')) as Job;
  };
  const deadLettered = async (job: Job) => {
    await vi.waitFor(
      async () => {
        const records = await dlq.getJobs(['waiting', 'active', 'completed', 'failed', 'delayed']);
        expect(records.filter((r) => r.data.jobId === job.id)).toHaveLength(1);
      },
      { timeout: 10_000, interval: 50 },
    );
  };
  const answers = async () => {
    const metric = await worker.registry.getSingleMetric('jobfleet_http_worker_answers_total')?.get();
    return Object.fromEntries(
      (metric?.values ?? [])
        .filter((v) => v.value > 0)
        .map((v) => [`${v.labels.queue} ${v.labels.answer}`, v.value]),
    );
  };
  return { worker, queue, dlq, events, add, finished, deadLettered, answers };
}

describe('the http-worker', () => {
  it('POSTs each job, signed, and completes it with the JSON answer as its result', async () => {
    const target = await endpoint();
    const { add, finished, answers, worker } = await setup(target.url);
    const job = await add();
    const done = await finished(job);
    expect(await done.getState()).toBe('completed');
    expect(done.returnvalue).toEqual(sent);

    expect(target.requests).toHaveLength(1);
    const [request] = target.requests;
    expect(request?.method).toBe('POST');
    expect(request?.path).toBe('/jobs');
    expect(request?.headers['content-type']).toBe('application/json');
    expect(request?.body).toEqual({
      id: job.id,
      queue: 'emails',
      name: 'welcome',
      data: welcome,
      attempt: 1,
    });
    // An independent implementation of the specification verifies the signature.
    const headers = {
      'webhook-id': String(request?.headers['webhook-id']),
      'webhook-timestamp': String(request?.headers['webhook-timestamp']),
      'webhook-signature': String(request?.headers['webhook-signature']),
    };
    expect(new Webhook(secret).verify(request?.raw ?? '', headers)).toEqual(request?.body);
    expect(() => new Webhook(generateWebhookSecret()).verify(request?.raw ?? '', headers)).toThrow();
    expect(headers['webhook-id']).toBe(`emails:${job.id}`);

    expect(await answers()).toEqual({ 'emails 2xx': 1 });
    const processed = await worker.registry.getSingleMetric('jobfleet_jobs_processed_total')?.get();
    expect(processed?.values.filter((v) => v.value > 0)).toEqual([
      { labels: { queue: 'emails', job_name: 'welcome', outcome: 'completed' }, value: 1 },
    ]);
  });

  it('sends every job name of the queue to the same endpoint', async () => {
    const target = await endpoint();
    const { add, finished } = await setup(target.url);
    const notification = { to: 'ada@example.com', subject: 'Hi', text: 'Hello' };
    const job = await add(notification, {}, 'notification');
    expect(await (await finished(job)).getState()).toBe('completed');
    expect(target.requests[0]?.body).toMatchObject({ name: 'notification', data: notification });
  });

  it('dead-letters a job the endpoint refuses with 400, without a retry', async () => {
    const target = await endpoint((_request, res) => answer(res, 400, 'no such\nuser'));
    const { add, finished, deadLettered, answers } = await setup(target.url);
    const job = await add();
    const failed = await finished(job);
    expect(await failed.getState()).toBe('failed');
    expect(failed.attemptsMade).toBe(1);
    expect(failed.failedReason).toBe('the endpoint answered 400: no such user');
    await deadLettered(job);
    expect(target.requests).toHaveLength(1);
    expect(await answers()).toEqual({ 'emails 4xx': 1 });
  });

  it.each([
    [
      'a result that breaks the result schema',
      { messageId: 5, transport: 'smtp' },
      /result schema: \/messageId/,
    ],
    ['a body that is not JSON', 'sent!', /not JSON/],
    ['an empty body (null is not an e-mail result)', undefined, /result schema/],
  ])('dead-letters a 2xx answer with %s', async (_what, body, reason) => {
    const target = await endpoint((_request, res) => answer(res, 200, body));
    const { add, finished, deadLettered } = await setup(target.url);
    const job = await add();
    const failed = await finished(job);
    expect(await failed.getState()).toBe('failed');
    expect(failed.attemptsMade).toBe(1);
    expect(failed.failedReason).toMatch(reason);
    await deadLettered(job);
  });

  it('does not follow a redirect: the job fails for good', async () => {
    const target = await endpoint((request, res) =>
      request.path === '/jobs'
        ? answer(res, 307, undefined, { location: '/elsewhere' })
        : answer(res, 200, sent),
    );
    const { add, finished } = await setup(target.url);
    const failed = await finished(await add());
    expect(failed.failedReason).toMatch(/answered 307.*redirects are not followed/);
    expect(target.requests.map((r) => r.path)).toEqual(['/jobs']);
  });

  it.each([503, 500, 429, 408])('retries a %i, then completes', async (status) => {
    const target = await endpoint((request, res) =>
      request.body.attempt === 1 ? answer(res, status, { error: 'busy' }) : answer(res, 200, sent),
    );
    const { add, finished, answers, worker } = await setup(target.url);
    const job = await add();
    const done = await finished(job);
    expect(await done.getState()).toBe('completed');
    expect(done.attemptsMade).toBe(2);
    expect(target.requests.map((r) => r.body.attempt)).toEqual([1, 2]);
    const klass = status >= 500 ? '5xx' : '4xx';
    expect(await answers()).toEqual({ [`emails ${klass}`]: 1, 'emails 2xx': 1 });
    const processed = await worker.registry.getSingleMetric('jobfleet_jobs_processed_total')?.get();
    expect(
      processed?.values
        .filter((v) => v.value > 0)
        .map((v) => v.labels.outcome)
        .sort(),
    ).toEqual(['completed', 'retried']);
  });

  it('waits at least what Retry-After asks before the next attempt', async () => {
    const target = await endpoint((request, res) =>
      request.body.attempt === 1
        ? answer(res, 503, { error: 'busy' }, { 'retry-after': '2' })
        : answer(res, 200, sent),
    );
    const { add, finished, events } = await setup(target.url);
    const delayed = new Promise<number>((resolve) =>
      events.once('delayed', ({ delay }) => resolve(Number(delay))),
    );
    const job = await add(); // its own backoff: 10 ms
    const retryAt = await delayed;
    const first = target.requests[0];
    expect(retryAt - (first?.answeredAt ?? 0)).toBeGreaterThanOrEqual(1_900);
    const done = await finished(job);
    expect(await done.getState()).toBe('completed');
    expect(target.requests).toHaveLength(2);
  });

  it("dead-letters a job whose endpoint stays unavailable, after the contract's attempts", async () => {
    const target = await endpoint((_request, res) => answer(res, 503, 'down for maintenance'));
    const { add, finished, deadLettered } = await setup(target.url);
    const job = await add(welcome, { attempts: 3 });
    const failed = await finished(job);
    expect(await failed.getState()).toBe('failed');
    expect(failed.attemptsMade).toBe(3);
    expect(failed.failedReason).toBe('the endpoint answered 503: down for maintenance');
    await deadLettered(job);
    expect(target.requests.map((r) => r.body.attempt)).toEqual([1, 2, 3]);
  });

  it('retries when nothing listens at the endpoint', async () => {
    const port = await freePort();
    const { add, finished, answers } = await setup(`http://127.0.0.1:${port}/jobs`);
    const failed = await finished(await add(welcome, { attempts: 2 }));
    expect(failed.attemptsMade).toBe(2);
    expect(failed.failedReason).toBe('could not reach the endpoint: ECONNREFUSED');
    expect(await answers()).toEqual({ 'emails connection_error': 2 });
  });

  it('aborts a request that outlasts HTTP_WORKER_TIMEOUT_MS and retries it', async () => {
    const aborted: string[] = [];
    const target = await endpoint((request, res, req) => {
      if (request.body.attempt > 1) return answer(res, 200, sent);
      req.socket.once('close', () => aborted.push(request.body.id));
    });
    const { add, finished, answers } = await setup(target.url, { HTTP_WORKER_TIMEOUT_MS: '300' });
    const job = await add();
    const done = await finished(job);
    expect(await done.getState()).toBe('completed');
    expect(done.attemptsMade).toBe(2);
    expect(aborted).toEqual([job.id]);
    expect(await answers()).toEqual({ 'emails timeout': 1, 'emails 2xx': 1 });
  });

  it('aborts the request when the job is cancelled; the job ends cancelled, not dead-lettered', async () => {
    let closed!: () => void;
    const requestClosed = new Promise<void>((resolve) => {
      closed = resolve;
    });
    const target = await endpoint((_request, _res, req) => {
      req.socket.once('close', () => closed());
    });
    const { add, finished, dlq, answers } = await setup(target.url);
    const admin = redis.connection();
    const channel = cancelChannel(redis.prefix, emails.name);
    await vi.waitFor(async () => expect(await admin.pubsub('NUMSUB', channel)).toEqual([channel, 1]));
    const arrived = target.nextRequest();
    const job = await add();
    await arrived;
    // As the gateway cancels: the marker, then the message.
    await admin.set(cancelMarkerKey(redis.prefix, emails.name, job.id ?? ''), '1', 'EX', 60);
    await admin.publish(channel, job.id ?? '');
    await requestClosed;
    const cancelled = await finished(job);
    expect(cancelled.failedReason).toBe(CANCELLED_REASON);
    expect(await dlq.count()).toBe(0);
    expect(await answers()).toEqual({});
  });

  it('sends requests unsigned when no secret is set, and says so at start', async () => {
    const target = await endpoint();
    const worker = await startInProcessWorker({
      redisUrl: redis.url,
      prefix: redis.prefix,
      env: { HTTP_WORKER_QUEUES: 'emails', HTTP_WORKER_URL: target.url },
    });
    cleanup.push(() => worker.close());
    const queue = new Queue(emails.name, { connection: redis.connection(), prefix: redis.prefix });
    cleanup.push(() => queue.close());
    const arrived = target.nextRequest();
    await queue.add('welcome', welcome, emails.defaultJobOptions);
    const request = await arrived;
    expect(request.headers['webhook-signature']).toBeUndefined();
    expect(
      worker.logs.some((line) => line.level === 40 && /HTTP_WORKER_SECRET is unset/.test(String(line.msg))),
    ).toBe(true);
  });

  it('serves several queues, each at its own endpoint when HTTP_WORKER_URL_<QUEUE> is set', async () => {
    const shared = await endpoint();
    const report = {
      path: 'acme/2026-11-27.csv',
      bytes: 10,
      sha256: 'a'.repeat(64),
      contentType: 'text/csv',
      rows: 1,
    };
    const own = await endpoint((_request, res) => answer(res, 200, report));
    const { add, finished, worker } = await setup(shared.url, {
      HTTP_WORKER_QUEUES: 'emails, reports',
      HTTP_WORKER_URL_REPORTS: own.url,
      WORKER_CONCURRENCY_REPORTS: '3',
    });
    expect(worker.concurrency).toEqual({ emails: 10, reports: 3 });
    const reportQueue = new Queue(reports.name, { connection: redis.connection(), prefix: redis.prefix });
    const reportEvents = new QueueEvents(reports.name, {
      connection: { url: redis.url },
      prefix: redis.prefix,
    });
    cleanup.push(
      () => reportQueue.close(),
      () => reportEvents.close(),
    );
    await reportEvents.waitUntilReady();
    const email = await add();
    const daily = await reportQueue.add('daily-report', { tenantId: 'acme' }, reports.defaultJobOptions);
    expect(await daily.waitUntilFinished(reportEvents, 15_000)).toEqual(report);
    expect(await (await finished(email)).getState()).toBe('completed');
    expect(shared.requests.map((r) => r.body.queue)).toEqual(['emails']);
    expect(own.requests.map((r) => r.body.queue)).toEqual(['reports']);
  });
});
