import {
  CANCELLED_REASON,
  catalog,
  deadLetterId,
  deadLetters,
  emails,
  webhookDeliveryId,
  webhooks,
  withCallback,
  withOrigin,
} from '@jobfleet/queue-contracts';
import { useTestRedis } from '@jobfleet/test-utils';
import { Queue } from 'bullmq';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { type DeadLetter, DeadLetterStore } from '../src/index.js';
import { failJobs } from './helpers.js';

const welcome = (i: number) => ({ name: 'welcome', data: { userId: i, to: `u${i}@example.com` } });

/** Every catalog queue with no record: counts cover them all (a generated queue too). */
const NONE = Object.fromEntries(Object.keys(catalog).map((queue) => [queue, 0]));

describe('dead-letter store: reconciliation', () => {
  const redis = useTestRedis();
  const open = () => new DeadLetterStore({ connection: redis.connection(), prefix: redis.prefix });
  const dlqCount = async () => {
    const dlq = new Queue(deadLetters.name, { connection: redis.connection(), prefix: redis.prefix });
    const count = await dlq.count();
    await dlq.close();
    return count;
  };
  /** What the DLQ processor does with each record job. */
  const indexAll = async (store: DeadLetterStore) => {
    for (const job of await store.deadLetterQueue.getWaiting(0, -1)) {
      await store.index(String(job.id), job.data as DeadLetter);
    }
  };

  /** Sets a failed job's failure time, as a worker with another clock would have. */
  const restamp = async (store: DeadLetterStore, jobId: string | undefined, at: number) => {
    const admin = redis.connection();
    await admin.zadd(store.keys.failed(emails.name), at, String(jobId));
    await admin.hset(`${redis.prefix}:${emails.name}:${jobId}`, 'finishedOn', at);
  };

  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('writes the record of every final failure the live path missed, skips cancelled jobs, and finds nothing the second time', async () => {
    const store = open();
    const jobs = await failJobs(redis, emails.name, [
      ...Array.from({ length: 28 }, (_, i) => welcome(i)),
      { ...welcome(100), reason: CANCELLED_REASON },
      { ...welcome(101), reason: CANCELLED_REASON },
    ]);

    const first = await store.reconcile({ settleMs: 0, batchSize: 7 });
    expect(first).toEqual({ found: { ...NONE, emails: 28 }, scanned: 30, busy: [] });
    expect(await dlqCount()).toBe(28);

    const failed = jobs.find((job) => job.data.userId === 3);
    const id = deadLetterId(emails.name, String(failed?.id), failed?.finishedOn ?? 0);
    const record = (await store.deadLetterQueue.getJob(id))?.data as DeadLetter;
    expect(record).toMatchObject({
      queue: 'emails',
      jobId: failed?.id,
      jobName: 'welcome',
      data: { userId: 3, to: 'u3@example.com' },
      failedReason: 'boom',
      attemptsMade: 1,
      failedAt: new Date(failed?.finishedOn ?? 0).toISOString(),
    });
    expect(record.stacktrace.length).toBeGreaterThan(0);

    // Nothing missing: one ZRANGE and one pipelined existence check per batch, no job is read.
    const getJob = vi.spyOn(Queue.prototype, 'getJob');
    const second = await store.reconcile({ settleMs: 0, batchSize: 7 });
    expect(second.found).toEqual(NONE);
    expect(getJob).not.toHaveBeenCalled();
    expect(await dlqCount()).toBe(28);
    await store.close();
  });

  it('announces a missed final failure of a job with a callback, once', async () => {
    const store = open();
    const opts = withCallback(withOrigin({ attempts: 1 }, { client: 'shop' }), {
      url: 'https://shop.example.com/h',
    });
    const [job] = await failJobs(redis, emails.name, [{ ...welcome(1), opts }, welcome(2)]);
    await store.reconcile({ settleMs: 0 });
    await store.reconcile({ settleMs: 0, overlapMs: 60_000 });
    const deliveries = new Queue(webhooks.name, { connection: redis.connection(), prefix: redis.prefix });
    const [delivery, ...others] = await deliveries.getWaiting(0, -1);
    await deliveries.close();
    expect(others).toEqual([]);
    expect(delivery?.id).toBe(webhookDeliveryId(emails.name, String(job?.id), 'job.failed'));
    expect(delivery?.data).toMatchObject({
      url: 'https://shop.example.com/h',
      event: { type: 'job.failed', data: { queue: 'emails', id: job?.id, failedReason: 'boom' } },
    });
  });

  it('reads on from its cursor, re-reading an overlap for clock skew, and leaves fresh failures to the live path', async () => {
    const store = open();
    const admin = redis.connection();
    await failJobs(redis, emails.name, [welcome(1), welcome(2)]);
    expect((await store.reconcile({ settleMs: 0 })).found.emails).toBe(2);
    const cursor = Number(await admin.get(store.keys.reconcileCursor(emails.name)));
    expect(cursor).toBeGreaterThan(0);

    // A failure stamped 5 s before the cursor, by a worker whose clock is behind.
    const [late] = await failJobs(redis, emails.name, [welcome(3)]);
    await restamp(store, late?.id, cursor - 5_000);
    expect((await store.reconcile({ settleMs: 0, overlapMs: 1_000 })).found.emails).toBe(0);
    expect((await store.reconcile({ settleMs: 0, overlapMs: 10_000 })).found.emails).toBe(1);

    // A failure younger than the settle time is the live path's to record.
    await failJobs(redis, emails.name, [welcome(4)]);
    expect((await store.reconcile({ settleMs: 60_000 })).found.emails).toBe(0);
    expect((await store.reconcile({ settleMs: 0 })).found.emails).toBe(1);
    expect(await dlqCount()).toBe(4);
    await store.close();
  });

  it('pages through failures sharing one timestamp without losing any', async () => {
    const store = open();
    const jobs = await failJobs(
      redis,
      emails.name,
      Array.from({ length: 12 }, (_, i) => welcome(i)),
    );
    // All twelve failed in the same millisecond.
    const at = Date.now() - 1_000;
    for (const job of jobs) await restamp(store, job.id, at);
    const result = await store.reconcile({ settleMs: 0, batchSize: 5 });
    expect(result.found.emails).toBe(12);
    expect(await dlqCount()).toBe(12);
    await store.close();
  });

  it('never brings back a removed record, and forgets tombstones once it has read past them', async () => {
    const store = open();
    const jobs = await failJobs(redis, emails.name, [welcome(1), welcome(2), welcome(3)]);
    // Distinct failure times, a second apart, so "the oldest" is one record.
    for (const [i, job] of jobs.entries()) await restamp(store, job.id, Date.now() - 10_000 + i * 1_000);
    await store.reconcile({ settleMs: 0 });
    await indexAll(store);
    const [oldest] = (await store.list({ limit: 10 })).items.reverse();
    await store.remove(oldest?.id ?? '');

    expect((await store.reconcile({ settleMs: 0 })).found.emails).toBe(0);
    expect(await store.get(oldest?.id ?? '')).toBeUndefined();
    expect(await dlqCount()).toBe(2);
    const tombstones = () => redis.connection().zcard(store.keys.tombstones(emails.name));
    expect(await tombstones()).toBe(1);

    // With no overlap, the next pass starts past the removed record's failure: its tombstone can go.
    expect((await store.reconcile({ settleMs: 0, overlapMs: 0 })).found.emails).toBe(0);
    expect(await tombstones()).toBe(0);
    expect((await store.reconcile({ settleMs: 0, overlapMs: 0 })).found.emails).toBe(0);
    expect(await dlqCount()).toBe(2);
    await store.close();
  });

  it('run by two processes at once, writes each missing record once', async () => {
    const [a, b] = [open(), open()];
    await failJobs(
      redis,
      emails.name,
      Array.from({ length: 40 }, (_, i) => welcome(i)),
    );
    const results = await Promise.all([
      a.reconcile({ settleMs: 0, batchSize: 10 }),
      b.reconcile({ settleMs: 0, batchSize: 10 }),
    ]);
    expect(results.reduce((sum, r) => sum + (r.found.emails ?? 0), 0)).toBe(40);
    expect(await dlqCount()).toBe(40);
    await Promise.all([a.close(), b.close()]);
  });
});
