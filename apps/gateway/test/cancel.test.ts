import { once } from 'node:events';
import {
  CANCEL_MARKER_TTL_SECONDS,
  CANCELLED_REASON,
  cancelMarkerKey,
  deadLetters,
  emails,
} from '@jobfleet/queue-contracts';
import { createLogger, createMetricsRegistry, createRedisConnection } from '@jobfleet/service-kit';
import { useTestRedis } from '@jobfleet/test-utils';
import { createWorkerRuntime, type WorkerRuntime } from '@jobfleet/worker-runtime';
import { type Job, Worker } from 'bullmq';
import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { cancelJob } from '../src/cancellation.js';
import { bearer, enqueue, inspectQueue, SECRETS, startGateway, welcome } from './helpers.js';

const redis = useTestRedis();
let app: FastifyInstance | undefined;
const cleanups: (() => Promise<unknown>)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  await app?.close();
  app = undefined;
});

async function gateway() {
  app = await startGateway(redis);
  return app;
}

/** Enqueues a job that must be accepted, and gives its id. */
const post = async (secret: string, payload: object = welcome) => {
  if (!app) throw new Error('no gateway started');
  const response = await enqueue(app, secret, payload);
  expect(response.statusCode).toBe(202);
  return response.json<{ id: string }>().id;
};

const cancel = (id: string, secret?: string) =>
  app?.inject({
    method: 'DELETE',
    url: `/v1/queues/emails/jobs/${id}`,
    headers: secret ? bearer(secret) : {},
  });

const status = (id: string, secret = SECRETS.admin) =>
  app?.inject({ method: 'GET', url: `/v1/queues/emails/jobs/${id}`, headers: bearer(secret) });

/**
 * A worker runtime whose `welcome` handler runs until its signal aborts: it
 * reports when it started and when (and why) it saw the abort.
 */
function blockingWorker() {
  const connection = createRedisConnection({ url: redis.url, flavour: 'worker' });
  const registry = createMetricsRegistry();
  let started: (jobId: string) => void = () => {};
  const running = new Promise<string>((resolve) => {
    started = resolve;
  });
  const aborted: { at: number; reason: unknown }[] = [];
  const forever = async (_data: unknown, context: { signal: AbortSignal; job: Job }) => {
    started(String(context.job.id));
    await new Promise<void>((_resolve, reject) => {
      context.signal.addEventListener('abort', () => {
        aborted.push({ at: performance.now(), reason: context.signal.reason });
        reject(new Error('aborted'));
      });
    });
    return { messageId: 'never', transport: 'outbox' as const };
  };
  const runtime: WorkerRuntime = createWorkerRuntime({
    contract: emails,
    handlers: { welcome: forever, 'password-reset': forever, notification: forever },
    connection,
    prefix: redis.prefix,
    logger: createLogger({ service: 'cancel-test', level: 'silent' }),
    registry,
    concurrency: 1,
  });
  cleanups.push(async () => {
    await runtime.close(2_000);
    connection.disconnect();
  });
  return { runtime, registry, running, aborted };
}

describe('DELETE /v1/queues/:queue/jobs/:id', () => {
  it('an active job cancelled over HTTP stops within a second on the worker, ends cancelled, is not dead-lettered', async () => {
    await gateway();
    const id = await post(SECRETS.signup);
    const worker = blockingWorker();
    expect(await worker.running).toBe(id);
    const failed = once(worker.runtime.worker, 'failed') as Promise<[Job, Error]>;
    // The queue view sees the runtime's worker and the running job.
    const queue = await app?.inject({
      method: 'GET',
      url: '/v1/queues/emails',
      headers: bearer(SECRETS.ops),
    });
    expect(queue?.json()).toMatchObject({ workers: 1, counts: { active: 1 } });

    const requested = performance.now();
    const response = await cancel(id, SECRETS.signup);
    expect(response?.statusCode).toBe(202);
    expect(response?.json()).toEqual({ id, queue: 'emails', state: 'cancelling' });

    const [job] = await failed;
    const stoppedAfter = (worker.aborted[0]?.at ?? Number.POSITIVE_INFINITY) - requested;
    expect(stoppedAfter).toBeLessThan(1_000);
    expect(job.failedReason).toBe(CANCELLED_REASON);
    expect(job.attemptsMade).toBe(1); // 5 attempts allowed: none retried

    const shown = await status(id, SECRETS.signup);
    expect(shown?.json()).toMatchObject({ id, state: 'cancelled', failedReason: CANCELLED_REASON });
    expect(await inspectQueue(redis, deadLetters.name).count()).toBe(0);
    expect(await inspectQueue(redis, deadLetters.name).getJobCountByTypes('completed', 'failed')).toBe(0);
    expect(await worker.registry.metrics()).toMatch(
      /jobfleet_jobs_processed_total\{queue="emails",job_name="welcome",outcome="cancelled"\} 1/,
    );
    expect(await worker.registry.metrics()).not.toMatch(/outcome="(dead_lettered|retried)"\} [1-9]/);

    // Already cancelled: nothing left to cancel.
    const again = await cancel(id, SECRETS.signup);
    expect(again?.statusCode).toBe(409);
    expect(again?.json()).toMatchObject({ code: 'JOBFLEET_JOB_FINISHED' });
  });

  it('marks and announces the cancel request: marker { by, at } with a TTL, then a message on the channel', async () => {
    await gateway();
    const id = await post(SECRETS.signup);
    // A plain BullMQ worker, which does not listen for cancels: the marker stays for us to read.
    let release: () => void = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const worker = new Worker('emails', () => held, { connection: redis.connection(), prefix: redis.prefix });
    cleanups.push(async () => {
      release();
      await worker.close();
    });
    await once(worker, 'active');
    const listener = redis.connection();
    await listener.subscribe(`${redis.prefix}:emails:jobfleet:cancel`);
    const message = once(listener, 'message') as Promise<[string, string]>;
    expect((await cancel(id, SECRETS.signup))?.statusCode).toBe(202);
    expect((await message)[1]).toBe(id);
    const key = cancelMarkerKey(redis.prefix, 'emails', id);
    const reader = redis.connection();
    expect(JSON.parse((await reader.get(key)) ?? '{}')).toEqual({
      by: 'signup-service',
      at: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
    });
    expect(await reader.ttl(key)).toBeGreaterThan(CANCEL_MARKER_TTL_SECONDS - 60);
    // Still active (nobody aborted it): a second request is accepted again.
    expect((await cancel(id, SECRETS.signup))?.statusCode).toBe(202);
  });

  it('waiting, delayed and prioritized jobs are removed → 204; then 404', async () => {
    await gateway();
    const waiting = await post(SECRETS.signup);
    const delayed = await post(SECRETS.signup, { ...welcome, options: { delay: 60_000 } });
    const prioritized = await post(SECRETS.signup, { ...welcome, options: { priority: 5 } });
    const queue = inspectQueue(redis, 'emails');
    expect(await queue.getJobState(prioritized)).toBe('prioritized');
    for (const id of [waiting, delayed, prioritized]) {
      expect((await cancel(id, SECRETS.signup))?.statusCode).toBe(204);
      expect(await queue.getJob(id)).toBeUndefined();
      expect((await status(id))?.statusCode).toBe(404);
      expect((await cancel(id, SECRETS.signup))?.statusCode).toBe(404);
    }
  });

  it('a job a worker took between the state read and the removal is treated as active', async () => {
    const gw = await gateway();
    const id = await post(SECRETS.signup);
    const stale = await inspectQueue(redis, 'emails').getJob(id);
    const worker = blockingWorker();
    await worker.running;
    if (!stale) throw new Error('no job');
    // The state read said "waiting"; by the removal, the worker holds the lock.
    vi.spyOn(stale, 'getState').mockResolvedValueOnce('waiting');
    const entry = gw.queues.get('emails');
    if (!entry) throw new Error('no queue');
    const failed = once(worker.runtime.worker, 'failed');
    const outcome = await cancelJob(gw.redis, redis.prefix, entry, stale, 'test');
    expect(outcome).toEqual({ kind: 'signalled' });
    await failed;
    expect(await inspectQueue(redis, 'emails').getJobState(id)).toBe('failed');
  });

  it('a finished job → 409', async () => {
    await gateway();
    const id = await post(SECRETS.signup);
    const worker = new Worker('emails', async () => ({ messageId: 'm', transport: 'outbox' }), {
      connection: redis.connection(),
      prefix: redis.prefix,
    });
    cleanups.push(() => worker.close());
    await once(worker, 'completed');
    const response = await cancel(id, SECRETS.signup);
    expect(response?.statusCode).toBe(409);
    expect(response?.json()).toMatchObject({ status: 409, code: 'JOBFLEET_JOB_FINISHED' });
  });

  it('<queue>:enqueue cancels only its own jobs; <queue>:manage any job of its tenant; others → 404', async () => {
    await gateway();
    const mine = await post(SECRETS.signup); // acme, signup-service
    const other = await post(SECRETS.acmeBilling); // acme, acme-billing
    const defaultTenant = await post(SECRETS.admin); // no tenant → default

    const notOwner = await cancel(mine, SECRETS.acmeBilling);
    expect(notOwner?.statusCode).toBe(403);
    expect(notOwner?.json()).toMatchObject({ code: 'JOBFLEET_NOT_JOB_OWNER' });
    expect(notOwner?.json<{ detail: string }>().detail).toContain('emails:manage');
    expect((await cancel(mine, SECRETS.globexReader))?.statusCode).toBe(403); // emails:read only
    expect((await cancel(mine, SECRETS.reportsOnly))?.statusCode).toBe(403); // no emails scope at all
    expect((await cancel(mine))?.statusCode).toBe(401);
    // Another tenant's job is invisible, whatever the scope.
    expect((await cancel(defaultTenant, SECRETS.acmeOps))?.statusCode).toBe(404);
    expect(await inspectQueue(redis, 'emails').count()).toBe(3);

    expect((await cancel(other, SECRETS.acmeBilling))?.statusCode).toBe(204); // its own
    expect((await cancel(mine, SECRETS.acmeOps))?.statusCode).toBe(204); // manage, same tenant
    expect((await cancel(defaultTenant, SECRETS.ops))?.statusCode).toBe(204); // manage, no tenant
  });

  it('a job added straight through BullMQ counts as tenant default', async () => {
    await gateway();
    const job = await inspectQueue(redis, 'emails').add('welcome', welcome.data);
    const id = String(job.id);
    expect((await status(id, SECRETS.signup))?.statusCode).toBe(404); // acme may not see it
    expect((await status(id, SECRETS.hashed))?.json()).toMatchObject({ origin: { tenant: 'default' } });
    expect((await cancel(id, SECRETS.acmeOps))?.statusCode).toBe(404);
    expect((await cancel(id, SECRETS.hashed))?.statusCode).toBe(403); // enqueue scope, not its job
    expect((await cancel(id, SECRETS.ops))?.statusCode).toBe(204);
  });
});
