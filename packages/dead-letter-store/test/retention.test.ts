import { catalog, deadLetters, emails } from '@jobfleet/queue-contracts';
import { useTestRedis } from '@jobfleet/test-utils';
import { Queue } from 'bullmq';
import { describe, expect, it } from 'vitest';
import { type DeadLetter, DeadLetterStore } from '../src/index.js';
import { failJobs, sampleRecord, seed } from './helpers.js';

const DAY = 86_400_000;
const T0 = Date.parse('2030-01-01T00:00:00.000Z');
const FOREVER = 3_650 * DAY;

/** Every catalog queue with no record: counts cover them all (a generated queue too). */
const NONE = Object.fromEntries(Object.keys(catalog).map((queue) => [queue, 0]));

describe('dead-letter store: retention', () => {
  const redis = useTestRedis();
  const open = () => new DeadLetterStore({ connection: redis.connection(), prefix: redis.prefix });
  const dlqJobs = async () => {
    const dlq = new Queue(deadLetters.name, { connection: redis.connection(), prefix: redis.prefix });
    const count = await dlq.count();
    await dlq.close();
    return count;
  };

  it('trims the oldest records beyond the count, per source queue, and says how many', async () => {
    const store = open();
    const records = [
      ...Array.from({ length: 30 }, (_, i) =>
        sampleRecord({
          queue: 'emails',
          jobId: `e${i}`,
          jobName: i % 2 ? 'welcome' : 'notification',
          failedAt: T0 + i,
        }),
      ),
      ...Array.from({ length: 5 }, (_, i) =>
        sampleRecord({ queue: 'reports', jobId: `r${i}`, jobName: 'daily-report', failedAt: T0 - 1_000 + i }),
      ),
    ];
    await seed(store, records);

    const result = await store.trim({ maxAgeMs: FOREVER, maxRecords: 20, now: T0, batchSize: 4 });
    expect(result).toEqual({ ran: true, trimmed: { emails: { age: 0, count: 10 } } });
    const kept = (await store.list({ queue: 'emails', limit: 100 })).items.map((s) => s.record.jobId);
    expect(kept.sort()).toEqual(Array.from({ length: 20 }, (_, i) => `e${i + 10}`).sort());
    expect(await store.counts()).toEqual({ ...NONE, emails: 20, reports: 5 });
    expect(await store.count()).toBe(25);
    // Every index agrees, and the trimmed jobs are gone from the dead-letters queue.
    const byName = await store.list({ name: 'notification', limit: 100 });
    expect(byName.items.every((s) => Number(s.record.jobId.slice(1)) >= 10)).toBe(true);
    expect(await dlqJobs()).toBe(25);

    expect(await store.trim({ maxAgeMs: FOREVER, maxRecords: 20, now: T0 })).toEqual({
      ran: true,
      trimmed: {},
    });
    await store.close();
  });

  it('trims records older than the retention age', async () => {
    const store = open();
    await seed(
      store,
      Array.from({ length: 20 }, (_, i) =>
        sampleRecord({ queue: 'emails', jobId: `d${i}`, jobName: 'welcome', failedAt: T0 + i * DAY }),
      ),
    );
    // On day 19, with 14 days kept: days 0 to 4 go.
    const result = await store.trim({ maxAgeMs: 14 * DAY, maxRecords: 10_000, now: T0 + 19 * DAY });
    expect(result.trimmed).toEqual({ emails: { age: 5, count: 0 } });
    const oldest = (await store.list({ limit: 100 })).items.at(-1);
    expect(oldest?.record.jobId).toBe('d5');
    expect(await dlqJobs()).toBe(15);
    await store.close();
  });

  it('keeps trimmed records from coming back through reconciliation', async () => {
    const store = open();
    await failJobs(
      redis,
      emails.name,
      Array.from({ length: 6 }, (_, i) => ({
        name: 'welcome',
        data: { userId: i, to: `u${i}@example.com` },
      })),
    );
    await store.reconcile({ settleMs: 0 });
    for (const job of await store.deadLetterQueue.getWaiting(0, -1)) {
      await store.index(String(job.id), job.data as DeadLetter);
    }
    expect((await store.trim({ maxAgeMs: FOREVER, maxRecords: 4 })).trimmed).toEqual({
      emails: { age: 0, count: 2 },
    });
    expect((await store.reconcile({ settleMs: 0 })).found.emails).toBe(0);
    expect(await store.count('emails')).toBe(4);
    expect(await dlqJobs()).toBe(4);
    await store.close();
  });

  it('runs in one process at a time', async () => {
    const store = open();
    await seed(store, [sampleRecord({ queue: 'emails', jobId: '1', jobName: 'welcome', failedAt: T0 })]);
    await redis.connection().set(store.keys.retentionLock, 'another process', 'PX', 10_000);
    expect(await store.trim({ maxAgeMs: 1, maxRecords: 1, now: T0 + DAY })).toEqual({
      ran: false,
      trimmed: {},
    });
    expect(await store.count()).toBe(1);
    await store.close();
  });
});
