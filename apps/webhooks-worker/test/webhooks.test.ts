import { randomUUID } from 'node:crypto';
import {
  cancelChannel,
  cancelMarkerKey,
  deadLetters,
  emails,
  type WebhookEvent,
  webhookDeliveryId,
  webhooks,
  withCallback,
  withOrigin,
} from '@jobfleet/queue-contracts';
import { generateWebhookSecret } from '@jobfleet/service-kit';
import { promtoolCheckMetrics, useServiceProcesses, useTestRedis } from '@jobfleet/test-utils';
import { defineWorker, type HandlerMap, PermanentJobError } from '@jobfleet/worker-runtime';
import { Queue, QueueEvents } from 'bullmq';
import { Webhook } from 'standardwebhooks';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { type Received, startReceiver } from './receiver.js';

/**
 * Completion webhooks end to end: jobs of the `emails` queue, posted with a
 * callback as the gateway posts them, run by a worker of the runtime in this
 * process; their deliveries are made by the real entrypoint of the
 * webhooks-worker (`node dist/main.js`) to a plain Node HTTP server, whose
 * requests are verified with the `standardwebhooks` package.
 */

const redis = useTestRedis();
const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});
const processes = useServiceProcesses({
  packageDir: new URL('..', import.meta.url),
  name: 'the webhooks-worker',
});

const SECRET = generateWebhookSecret();
const KEYS = JSON.stringify([
  { id: 'shop', key: 'shop-secret-0123456789', scopes: ['emails:enqueue'], webhookSecret: SECRET },
  { id: 'unsigned', key: 'unsigned-secret-0123456789', scopes: ['emails:enqueue'] },
]);

/** The e-mail jobs' handlers: `data.name` says how a job ends. */
const emailHandlers = (held: (id: string) => void): HandlerMap<typeof emails> => ({
  welcome: async (data, { job, signal }) => {
    if (data.name === 'refuse') throw new PermanentJobError('550 no such user');
    if (data.name === 'hold') {
      held(job.id ?? '');
      await new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason)));
    }
    return { messageId: `<${job.id}@example.com>`, transport: 'smtp' };
  },
  'password-reset': async () => ({ messageId: '<x@example.com>', transport: 'smtp' }),
  notification: async () => ({ messageId: '<x@example.com>', transport: 'smtp' }),
});

async function setup(env: Record<string, string>) {
  const receiver = await startReceiver();
  cleanup.push(() => receiver.close());
  const connection = { url: redis.url };
  const queue = new Queue(emails.name, { connection, prefix: redis.prefix });
  const deliveries = new Queue(webhooks.name, { connection, prefix: redis.prefix });
  const deliveryEvents = new QueueEvents(webhooks.name, { connection, prefix: redis.prefix });
  const dlq = new Queue(deadLetters.name, { connection, prefix: redis.prefix });
  cleanup.push(
    () => queue.close(),
    () => deliveries.close(),
    () => deliveryEvents.close(),
    () => dlq.close(),
  );
  await deliveryEvents.waitUntilReady();

  const heldJobs = new Map<string, () => void>();
  const held = (id: string) => heldJobs.get(id)?.();
  const source = await defineWorker({
    service: 'source-worker',
    metricsPort: 0,
    queues: [{ contract: emails, handlers: emailHandlers(held) }],
  }).start({ env: { REDIS_URL: redis.url, JOBFLEET_PREFIX: redis.prefix } });
  cleanup.push(() => source.close());

  const worker = processes.spawn({
    REDIS_URL: redis.url,
    JOBFLEET_PREFIX: redis.prefix,
    HOST: '127.0.0.1',
    METRICS_PORT: '0',
    GATEWAY_API_KEYS: KEYS,
    ...env,
  });
  const started = await worker.waitForLog((line) => line.msg === 'worker started');
  const metricsUrl = String(started.metrics);

  /** Adds an e-mail job as the gateway would for key `client`, with a callback to `url`. */
  const post = (name: string, url: string, client = 'shop', jobId = randomUUID()) =>
    queue.add(
      'welcome',
      { userId: 1, to: 'ada@example.com', name },
      withCallback(withOrigin({ ...emails.defaultJobOptions, jobId }, { client }), { url }),
    );
  /** Resolves with the failure reason once the delivery of `jobId`'s completion fails for good. */
  const deliveryFailure = (jobId: string) => {
    const id = webhookDeliveryId(emails.name, jobId, 'job.completed');
    return new Promise<string>((resolve) => {
      const onFailed = ({ jobId: failed, failedReason }: { jobId: string; failedReason: string }) => {
        if (failed !== id) return;
        deliveryEvents.off('failed', onFailed);
        resolve(failedReason);
      };
      deliveryEvents.on('failed', onFailed);
    });
  };
  /** Resolves once `id`'s handler runs. */
  const whenHeld = (id: string) => new Promise<void>((resolve) => heldJobs.set(id, resolve));
  return {
    receiver,
    queue,
    deliveries,
    deliveryEvents,
    dlq,
    worker,
    metricsUrl,
    post,
    whenHeld,
    deliveryFailure,
  };
}

/** The verified payload of a request, by the independent Standard Webhooks implementation. */
const verified = (request: Received): WebhookEvent =>
  new Webhook(SECRET).verify(request.body, request.headers as Record<string, string>) as WebhookEvent;

describe('completion webhooks', () => {
  it('POST one signed event per job that ends: completed, dead-lettered, cancelled', async () => {
    const t = await setup({ WEBHOOK_ALLOW_PRIVATE_NETWORKS: 'true' });
    const url = `${t.receiver.origin}/hooks/jobfleet`;
    const ok = await t.post('Ada', url);
    const refused = await t.post('refuse', url);
    const holdId = randomUUID();
    const entered = t.whenHeld(holdId);
    const held = await t.queue.add(
      'welcome',
      { userId: 1, to: 'ada@example.com', name: 'hold' },
      withCallback(withOrigin({ ...emails.defaultJobOptions, jobId: holdId }, { client: 'shop' }), { url }),
    );
    await entered;
    const admin = redis.connection();
    await admin.set(cancelMarkerKey(redis.prefix, emails.name, holdId), '1', 'EX', 60);
    await admin.publish(cancelChannel(redis.prefix, emails.name), holdId);

    const ids = [
      webhookDeliveryId(emails.name, ok.id ?? '', 'job.completed'),
      webhookDeliveryId(emails.name, refused.id ?? '', 'job.failed'),
      webhookDeliveryId(emails.name, held.id ?? '', 'job.cancelled'),
    ];
    // Each delivery completes after one 2xx answer, and each ending has exactly one delivery job.
    const results = await Promise.all(
      ids.map(async (id) => {
        await t.receiver.next((r) => r.headers['webhook-id'] === id);
        const job = await t.deliveries.getJob(id);
        return job?.waitUntilFinished(t.deliveryEvents, 10_000);
      }),
    );
    expect(results).toEqual([{ status: 204 }, { status: 204 }, { status: 204 }]);
    expect(await t.deliveries.getJobCounts('completed', 'waiting', 'delayed', 'active', 'failed')).toEqual({
      completed: 3,
      waiting: 0,
      delayed: 0,
      active: 0,
      failed: 0,
    });
    expect(t.receiver.requests).toHaveLength(3);
    expect(t.receiver.requests.map((r) => r.path)).toEqual(Array(3).fill('/hooks/jobfleet'));

    const byId = new Map(t.receiver.requests.map((r) => [r.headers['webhook-id'], r]));
    const [completed, failed, cancelled] = ids.map((id) => byId.get(id) as Received);
    for (const request of [completed, failed, cancelled] as Received[]) {
      expect(request.headers['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/]+={0,2}$/);
      expect(request.headers['content-type']).toBe('application/json');
      // A wrong secret does not verify: the signature is really checked.
      expect(() =>
        new Webhook(generateWebhookSecret()).verify(request.body, request.headers as Record<string, string>),
      ).toThrow();
    }
    const finishedAt = expect.stringMatching(/^\d{4}-\d\d-\d\dT/);
    expect(verified(completed as Received)).toEqual({
      type: 'job.completed',
      timestamp: finishedAt,
      data: {
        queue: 'emails',
        id: ok.id,
        name: 'welcome',
        result: { messageId: `<${ok.id}@example.com>`, transport: 'smtp' },
        finishedAt,
      },
    });
    expect(verified(failed as Received)).toEqual({
      type: 'job.failed',
      timestamp: finishedAt,
      data: {
        queue: 'emails',
        id: refused.id,
        name: 'welcome',
        failedReason: '550 no such user',
        finishedAt,
      },
    });
    expect(verified(cancelled as Received)).toEqual({
      type: 'job.cancelled',
      timestamp: finishedAt,
      data: {
        queue: 'emails',
        id: holdId,
        name: 'welcome',
        failedReason: 'cancelled on request',
        finishedAt,
      },
    });
    // The failed job is a dead letter; its delivery, which succeeded, is none.
    const records = await t.dlq.getJobs(['waiting', 'active', 'completed', 'failed', 'delayed']);
    expect(records.map((r) => [r.data.queue, r.data.jobId])).toEqual([['emails', refused.id]]);

    const metrics = await (await fetch(t.metricsUrl)).text();
    expect(metrics).toContain('jobfleet_webhook_requests_total{answer="2xx"} 3');
    expect(metrics).toMatch(
      /jobfleet_jobs_processed_total\{queue="webhooks",job_name="deliver",outcome="completed"\} 3/,
    );
    expect(metrics).toContain('jobfleet_webhook_request_duration_seconds_count{answer="2xx"} 3');
    await promtoolCheckMetrics(metrics);
  });

  it('retries while the receiver answers 500, then delivers the same message once it answers 2xx', async () => {
    const t = await setup({ WEBHOOK_ALLOW_PRIVATE_NETWORKS: 'true' });
    let failures = 1;
    t.receiver.respond = (_request, res) => {
      if (failures-- > 0) res.writeHead(500).end('down for maintenance');
      else res.writeHead(200, { 'content-type': 'application/json' }).end('{"thanks":true}');
    };
    const job = await t.post('Ada', `${t.receiver.origin}/hook`);
    const id = webhookDeliveryId(emails.name, job.id ?? '', 'job.completed');
    const second = await t.receiver.next((r) => r.headers['webhook-id'] === id, 2);
    const delivery = await t.deliveries.getJob(id);
    expect(await delivery?.waitUntilFinished(t.deliveryEvents, 10_000)).toEqual({ status: 200 });
    const [first] = t.receiver.requests;
    // The same message, re-signed at its own time: one webhook-id, one body, both verified.
    expect(first?.body).toBe(second.body);
    expect(verified(first as Received)).toEqual(verified(second));
    expect((await t.deliveries.getJob(id))?.attemptsMade).toBe(2);
    const metrics = await (await fetch(t.metricsUrl)).text();
    expect(metrics).toContain('jobfleet_webhook_requests_total{answer="5xx"} 1');
    expect(metrics).toMatch(
      /jobfleet_jobs_processed_total\{queue="webhooks",job_name="deliver",outcome="retried"\} 1/,
    );
  });

  it('refuses private destinations after DNS, and keys without a secret: dead letters, nothing sent', async () => {
    const t = await setup({});
    expect(t.worker.logs.some((line) => line.signing_keys === 1)).toBe(true);
    // `localhost` resolves to a loopback address; a literal one needs no resolution to be refused.
    const [byName, byLiteral, unsigned] = [randomUUID(), randomUUID(), randomUUID()];
    const reasons = Promise.all([byName, byLiteral, unsigned].map(t.deliveryFailure));
    await t.post('Ada', `http://localhost:${t.receiver.port}/hook`, 'shop', byName);
    await t.post('Ada', `http://127.0.0.1:${t.receiver.port}/hook`, 'shop', byLiteral);
    await t.post('Ada', 'https://hooks.example.com/x', 'unsigned', unsigned);
    const [nameReason, literalReason, unsignedReason] = await reasons;
    expect(nameReason).toMatch(/^localhost resolves to (127\.0\.0\.1|::1), a loopback address/);
    expect(literalReason).toBe('127.0.0.1 is a loopback address; only public addresses are allowed');
    expect(unsignedReason).toBe(
      'API key "unsigned" has no webhookSecret in the API key list, so the delivery cannot be signed',
    );
    // One attempt each (no retry can help), each a dead letter of the webhooks queue.
    await vi.waitFor(async () => {
      const records = await t.dlq.getJobs(['waiting', 'active', 'completed', 'failed', 'delayed']);
      expect(records.filter((r) => r.data.queue === webhooks.name)).toHaveLength(3);
      for (const record of records) expect(record.data.attemptsMade).toBe(1);
    });
    expect(t.receiver.requests).toEqual([]);
    const metrics = await (await fetch(t.metricsUrl)).text();
    expect(metrics).toContain('jobfleet_webhook_requests_total{answer="private_address"} 2');
    // A dead-lettered delivery announces nothing itself: the only deliveries are the three.
    expect(await t.deliveries.count()).toBe(0);
    expect((await t.deliveries.getJobCounts('failed')).failed).toBe(3);
  });
});
