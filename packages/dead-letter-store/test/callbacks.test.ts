import {
  CANCELLED_REASON,
  emails,
  pendingCallbacksKey,
  webhookDeliveryFor,
  webhookDeliveryId,
  webhooks,
  withCallback,
  withOrigin,
} from '@jobfleet/queue-contracts';
import { useTestRedis } from '@jobfleet/test-utils';
import { type Job, Queue, Worker } from 'bullmq';
import { afterEach, describe, expect, it } from 'vitest';
import { DeadLetterStore } from '../src/index.js';

const CALLBACK = { url: 'https://example.com/hooks/jobfleet' };
const withWebhook = withOrigin(withCallback({ ...emails.defaultJobOptions, attempts: 1 }, CALLBACK), {
  client: 'signup-service',
});

describe('dead-letter store: completion webhooks the live path missed', () => {
  const redis = useTestRedis();
  const opened: { close(): Promise<unknown> }[] = [];
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((each) => each.close()));
  });
  const open = <T extends { close(): Promise<unknown> }>(each: T): T => {
    opened.push(each);
    return each;
  };
  const pending = () => pendingCallbacksKey(redis.prefix, emails.name);

  /**
   * Runs `jobs` to their end with a plain BullMQ worker, which announces
   * nothing: what a jobfleet worker that died right after BullMQ recorded each
   * ending leaves behind. `outcome` says how each ends.
   */
  async function endJobs(outcomes: ('complete' | 'fail' | 'cancel')[]): Promise<Job[]> {
    const queue = open(new Queue(emails.name, { connection: redis.connection(), prefix: redis.prefix }));
    const added = await queue.addBulk(
      outcomes.map((outcome, i) => ({
        name: 'welcome',
        data: { userId: i, to: `u${i}@example.com`, outcome },
        opts: withWebhook,
      })),
    );
    const ended = new Set<string>();
    const worker = new Worker(
      emails.name,
      async (job) => {
        if (job.data.outcome === 'fail') throw new Error('mailbox full');
        if (job.data.outcome === 'cancel') throw new Error(CANCELLED_REASON);
        return { messageId: `<m${job.data.userId}@example.com>` };
      },
      { connection: redis.connection(), prefix: redis.prefix },
    );
    await new Promise<void>((resolve) => {
      const seen = (job: Job | undefined) => {
        if (job?.id) ended.add(job.id);
        if (ended.size === added.length) resolve();
      };
      worker.on('completed', seen);
      worker.on('failed', seen);
    });
    await worker.close();
    return Promise.all(added.map(async (job) => (await queue.getJob(job.id ?? '')) as Job));
  }

  it('queues the deliveries of ended jobs whose entries were left behind, once, and keeps running ones', async () => {
    const store = open(new DeadLetterStore({ connection: redis.connection(), prefix: redis.prefix }));
    const client = redis.connection();
    const deliveries = open(new Queue(webhooks.name, { connection: client, prefix: redis.prefix }));
    const [completed, failed, cancelled, alreadyQueued] = await endJobs([
      'complete',
      'fail',
      'cancel',
      'complete',
    ]);
    // The live path added this one's delivery but could not clear its entry.
    const live = webhookDeliveryFor(emails.name, alreadyQueued as Job, 'job.completed');
    await deliveries.add(live?.name ?? '', live?.data, live?.opts);
    // One not started again yet after a failed attempt; one removed with its delivery queued by the
    // gateway (a cancel of a waiting job); one removed with no delivery anywhere.
    const queue = open(new Queue(emails.name, { connection: client, prefix: redis.prefix }));
    const waiting = await queue.add('welcome', { userId: 9, to: 'u9@example.com' }, withWebhook);
    await deliveries.add('deliver', live?.data, {
      jobId: webhookDeliveryId(emails.name, 'gone-1', 'job.cancelled'),
    });
    const entries = [completed, failed, cancelled, alreadyQueued, waiting].map((job) => String(job?.id));
    for (const id of [...entries, 'gone-1', 'gone-2']) await client.zadd(pending(), 1_000, id);
    // Started a moment ago: the live path's, not reconciliation's, to queue.
    await client.zadd(pending(), 100_000, 'young');

    const first = await store.reconcileCallbacks({ settleMs: 10_000, now: 100_000 });
    expect(first.queued.emails).toBe(3);
    expect(first.lost.emails).toBe(1);
    expect(first.busy).toEqual([]);
    expect(first.queued).not.toHaveProperty(webhooks.name);

    const delivered = async (job: Job | undefined, type: 'job.completed' | 'job.failed' | 'job.cancelled') =>
      (await deliveries.getJob(webhookDeliveryId(emails.name, String(job?.id), type)))?.data;
    expect(await delivered(completed, 'job.completed')).toMatchObject({
      url: CALLBACK.url,
      event: {
        type: 'job.completed',
        data: { queue: 'emails', id: completed?.id, result: { messageId: '<m0@example.com>' } },
      },
    });
    expect(await delivered(failed, 'job.failed')).toMatchObject({
      event: { type: 'job.failed', data: { failedReason: 'mailbox full' } },
    });
    expect(await delivered(cancelled, 'job.cancelled')).toMatchObject({
      event: { type: 'job.cancelled', data: { failedReason: CANCELLED_REASON } },
    });
    expect(await deliveries.count()).toBe(5);
    // The still-waiting job keeps its entry, looked at again a settle period later; so does the young one.
    expect(await client.zrange(pending(), 0, -1, 'WITHSCORES')).toEqual([
      String(waiting.id),
      '100000',
      'young',
      '100000',
    ]);

    // Its worker queued its delivery meanwhile.
    await client.zrem(pending(), 'young');
    const second = await store.reconcileCallbacks({ settleMs: 10_000, now: 200_000 });
    expect(second.queued.emails).toBe(0);
    expect(second.lost.emails).toBe(0);
    expect(await deliveries.count()).toBe(5);
    expect(await client.zrange(pending(), 0, -1)).toEqual([String(waiting.id)]);
  });

  it('leaves a queue to the process that holds its lock', async () => {
    const store = open(new DeadLetterStore({ connection: redis.connection(), prefix: redis.prefix }));
    await redis.connection().set(store.keys.callbacksLock(emails.name), 'another process');
    const result = await store.reconcileCallbacks({ settleMs: 0 });
    expect(result.busy).toEqual([emails.name]);
    expect(result.queued).not.toHaveProperty(emails.name);
  });
});
