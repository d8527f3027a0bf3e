import { useTestRedis } from '@jobfleet/test-utils';
import { type Job, Queue, QueueEvents, Worker } from 'bullmq';
import { afterEach, describe, expect, it } from 'vitest';
import {
  createRedisDeliveryLedger,
  DELIVERY_FIELD,
  jobHashKey,
  type LedgerJob,
  legacyLedgerKey,
} from '../src/delivery-ledger.js';

const redis = useTestRedis();
const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

const delivery = {
  messageId: '<emails.welcome=3A42=2Fx.1700000000000@jobfleet.local>',
  transport: 'smtp' as const,
  deliveredAt: '2026-01-01T00:00:00.000Z',
  response: '250 OK: queued',
};

function openQueue() {
  const queue = new Queue('emails', { connection: redis.connection(), prefix: redis.prefix });
  cleanup.push(() => queue.close());
  return queue;
}

const ledgerJobOf = (job: Job): LedgerJob => ({
  key: jobHashKey(job),
  queue: 'emails',
  jobId: job.id ?? '',
  createdAt: job.timestamp,
});

/** Every key under the test's prefix. */
const keysOf = (prefix: string) => redis.connection().keys(`${prefix}:*`);

describe('Redis delivery ledger', () => {
  it("keeps the record in the job's own hash, where BullMQ keeps the job", async () => {
    const queue = openQueue();
    const job = await queue.add('welcome', { userId: 1 }, { jobId: 'welcome-42/x' });
    expect(jobHashKey(job)).toBe(`${redis.prefix}:emails:welcome-42/x`);
    const connection = redis.connection();
    const ledger = createRedisDeliveryLedger({ connection });
    expect(await ledger.lookup(ledgerJobOf(job))).toBeUndefined();
    expect(await ledger.record(ledgerJobOf(job), delivery)).toBe(true);
    expect(await ledger.lookup(ledgerJobOf(job))).toEqual(delivery);
    expect(JSON.parse((await connection.hget(jobHashKey(job), DELIVERY_FIELD)) ?? '')).toEqual(delivery);
    // Nothing beside the queue's own keys: no key of its own, no expiry.
    expect((await keysOf(redis.prefix)).every((key) => key.startsWith(`${redis.prefix}:emails:`))).toBe(true);
    expect(await connection.pttl(jobHashKey(job))).toBe(-1);
    // BullMQ still reads the job as it was.
    expect((await queue.getJob('welcome-42/x'))?.data).toEqual({ userId: 1 });
  });

  it('is removed with the job when the retention removes it', async () => {
    const queue = openQueue();
    const events = new QueueEvents('emails', { connection: { url: redis.url }, prefix: redis.prefix });
    cleanup.push(() => events.close());
    await events.waitUntilReady();
    const connection = redis.connection();
    const ledger = createRedisDeliveryLedger({ connection });
    // Records its delivery as the email handlers do, then completes; the retention keeps one job.
    const worker = new Worker(
      'emails',
      async (job) => {
        await ledger.record(ledgerJobOf(job), delivery);
        return 'sent';
      },
      { connection: redis.connection(), prefix: redis.prefix },
    );
    cleanup.push(() => worker.close());
    const first = await queue.add('welcome', { userId: 1 }, { removeOnComplete: { count: 1 } });
    await first.waitUntilFinished(events, 10_000);
    expect(await connection.hexists(jobHashKey(first), DELIVERY_FIELD)).toBe(1);
    const second = await queue.add('welcome', { userId: 2 }, { removeOnComplete: { count: 1 } });
    await second.waitUntilFinished(events, 10_000);

    expect(await connection.exists(jobHashKey(first))).toBe(0);
    expect(await connection.hexists(jobHashKey(second), DELIVERY_FIELD)).toBe(1);
    expect((await keysOf(redis.prefix)).filter((key) => key.includes('ledger'))).toEqual([]);
  });

  it('writes nothing for a job that no longer exists, and leaves no stray hash behind', async () => {
    const queue = openQueue();
    const job = await queue.add('welcome', { userId: 1 });
    await job.remove();
    const connection = redis.connection();
    const ledger = createRedisDeliveryLedger({ connection });
    expect(await ledger.record(ledgerJobOf(job), delivery)).toBe(false);
    expect(await connection.exists(jobHashKey(job))).toBe(0);
  });

  it('does not take a job added again under a removed job id for the removed one', async () => {
    const queue = openQueue();
    const connection = redis.connection();
    const ledger = createRedisDeliveryLedger({ connection });
    const old = await queue.add('welcome', { userId: 1 }, { jobId: 'reused', timestamp: 1_700_000_000_000 });
    expect(await ledger.record(ledgerJobOf(old), delivery)).toBe(true);
    await old.remove();
    const again = await queue.add(
      'welcome',
      { userId: 1 },
      { jobId: 'reused', timestamp: 1_700_000_000_001 },
    );
    // The new job has not delivered yet.
    expect(await ledger.lookup(ledgerJobOf(again))).toBeUndefined();
    // A late write for the removed job does not land in the new one.
    expect(await ledger.record(ledgerJobOf(old), delivery)).toBe(false);
    expect(await ledger.lookup(ledgerJobOf(again))).toBeUndefined();
  });

  it('keeps the first record when two attempts both delivered', async () => {
    const queue = openQueue();
    const job = await queue.add('welcome', { userId: 1 });
    const ledger = createRedisDeliveryLedger({ connection: redis.connection() });
    await ledger.record(ledgerJobOf(job), delivery);
    expect(
      await ledger.record(ledgerJobOf(job), { ...delivery, deliveredAt: '2026-01-02T00:00:00.000Z' }),
    ).toBe(true);
    expect(await ledger.lookup(ledgerJobOf(job))).toEqual(delivery);
  });

  it('still finds a record that an earlier version kept under its own key', async () => {
    const queue = openQueue();
    const job = await queue.add('welcome', { userId: 1 });
    const connection = redis.connection();
    const legacy = legacyLedgerKey(redis.prefix, ledgerJobOf(job));
    expect(legacy).toBe(`${redis.prefix}:email-ledger:emails:${job.timestamp}:${job.id}`);
    await connection.set(legacy, JSON.stringify(delivery), 'PX', 60_000);
    expect(await createRedisDeliveryLedger({ connection }).lookup(ledgerJobOf(job))).toBeUndefined();
    const ledger = createRedisDeliveryLedger({ connection, legacyPrefix: redis.prefix });
    expect(await ledger.lookup(ledgerJobOf(job))).toEqual(delivery);
  });

  it('takes a record it cannot read as "delivered", never as "send again"', async () => {
    const queue = openQueue();
    const job = await queue.add('welcome', { userId: 1 });
    const connection = redis.connection();
    const ledger = createRedisDeliveryLedger({ connection });
    await connection.hset(jobHashKey(job), DELIVERY_FIELD, 'not json');
    expect(await ledger.lookup(ledgerJobOf(job))).toEqual({
      messageId: '',
      transport: 'smtp',
      deliveredAt: '',
    });
  });
});
