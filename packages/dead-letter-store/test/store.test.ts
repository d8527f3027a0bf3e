import { catalog, deadLetterId, deadLetters, emails, toDeadLetter } from '@jobfleet/queue-contracts';
import { useTestRedis } from '@jobfleet/test-utils';
import { Queue } from 'bullmq';
import { describe, expect, it } from 'vitest';
import {
  DeadLetterNotFoundError,
  DeadLetterQueryError,
  DeadLetterStore,
  encodeCursor,
  type StoredDeadLetter,
} from '../src/index.js';
import { failJobs, sampleRecord, seed } from './helpers.js';

const T0 = Date.parse('2030-01-01T00:00:00.000Z');

/** Every catalog queue with no record: counts cover them all (a generated queue too). */
const NONE = Object.fromEntries(Object.keys(catalog).map((queue) => [queue, 0]));

describe('dead-letter store: index, list, get, remove', () => {
  const redis = useTestRedis();
  const open = () => new DeadLetterStore({ connection: redis.connection(), prefix: redis.prefix });

  /** 25 records over two queues and three names, several sharing one failure time. */
  async function seedMixed(store: DeadLetterStore) {
    const records = [];
    for (let i = 0; i < 25; i += 1) {
      const queue = i % 5 === 0 ? 'reports' : 'emails';
      const jobName = queue === 'reports' ? 'daily-report' : i % 2 === 0 ? 'welcome' : 'notification';
      // Five records at each of five instants: ties must page exactly.
      records.push(
        sampleRecord({ queue, jobId: `j${i}`, jobName, failedAt: T0 + Math.floor(i / 5) * 1_000 }),
      );
    }
    await seed(store, records);
    return records;
  }

  async function listAll(store: DeadLetterStore, query: { queue?: string; name?: string; since?: number }) {
    const seen: StoredDeadLetter[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await store.list({ ...query, limit: 4, cursor });
      seen.push(...page.items);
      cursor = page.nextCursor;
      pages += 1;
    } while (cursor && pages < 100);
    return { seen, pages };
  }

  it('lists newest first, pages exactly through ties with an opaque cursor, and filters by queue, name and time', async () => {
    const store = open();
    const records = await seedMixed(store);

    const all = await listAll(store, {});
    expect(all.seen).toHaveLength(25);
    expect(new Set(all.seen.map((s) => s.id)).size).toBe(25);
    expect(all.pages).toBe(7);
    const times = all.seen.map((s) => Date.parse(s.record.failedAt));
    expect(times).toEqual([...times].sort((a, b) => b - a));

    const emails = await listAll(store, { queue: 'emails' });
    expect(emails.seen).toHaveLength(20);
    expect(emails.seen.every((s) => s.record.queue === 'emails')).toBe(true);

    const welcome = await listAll(store, { queue: 'emails', name: 'welcome' });
    const expected = records.filter((r) => r.queue === 'emails' && r.jobName === 'welcome');
    expect(welcome.seen.map((s) => s.record.jobId).sort()).toEqual(expected.map((r) => r.jobId).sort());

    const byName = await listAll(store, { name: 'daily-report' });
    expect(byName.seen).toHaveLength(5);

    const recent = await listAll(store, { since: T0 + 3_000 });
    expect(recent.seen).toHaveLength(10);
    expect(recent.seen.every((s) => Date.parse(s.record.failedAt) >= T0 + 3_000)).toBe(true);

    const exact = await store.list({ limit: 25 });
    expect(exact.items).toHaveLength(25);
    expect(exact.nextCursor).toBeUndefined();
    await store.close();
  });

  it('keeps its place when records are added and removed between pages', async () => {
    const store = open();
    await seedMixed(store);
    const first = await store.list({ limit: 7 });
    const newer = sampleRecord({ queue: 'emails', jobId: 'late', jobName: 'welcome', failedAt: T0 + 60_000 });
    await seed(store, [newer]);
    const gone = first.items[1]?.id ?? '';
    await store.remove(gone);
    const rest = await store.list({ limit: 100, cursor: first.nextCursor });
    const ids = [...first.items, ...rest.items].map((s) => s.id);
    expect(ids).toHaveLength(25);
    expect(new Set(ids).size).toBe(25);
    expect(rest.items.map((s) => s.record.jobId)).not.toContain('late');
  });

  it('refuses a bad limit, cursor or since with a named error', async () => {
    const store = open();
    for (const limit of [0, 1_001, 2.5]) {
      await expect(store.list({ limit })).rejects.toBeInstanceOf(DeadLetterQueryError);
    }
    await expect(store.list({ limit: 10, cursor: 'not a cursor!' })).rejects.toMatchObject({
      name: 'DeadLetterQueryError',
      field: 'cursor',
    });
    await expect(store.list({ limit: 10, cursor: encodeCursor({ score: 1.5, id: 'x' }) })).rejects.toThrow(
      /cursor/,
    );
    await expect(store.list({ limit: 10, since: new Date('nope') })).rejects.toMatchObject({
      field: 'since',
    });
    await store.close();
  });

  it('gets one record by id; an unknown id is undefined', async () => {
    const store = open();
    const record = sampleRecord({ queue: 'emails', jobId: '42', jobName: 'welcome', failedAt: T0 });
    const [id] = await seed(store, [record]);
    expect(id).toBe(deadLetterId('emails', '42', T0));
    expect(await store.get(id ?? '')).toEqual({ id, record });
    expect(await store.get('emails.43.1')).toBeUndefined();
    await store.close();
  });

  it('indexes a record once, and counts per source queue', async () => {
    const store = open();
    const record = sampleRecord({ queue: 'emails', jobId: '1', jobName: 'welcome', failedAt: T0 });
    const id = await store.capture(record);
    expect(await store.capture(record)).toBe(id);
    expect(await store.index(id, record)).toBe('indexed');
    expect(await store.index(id, record)).toBe('exists');
    expect(await store.count('emails')).toBe(1);
    expect(await store.counts()).toEqual({ ...NONE, emails: 1 });
    const dlq = new Queue(deadLetters.name, { connection: redis.connection(), prefix: redis.prefix });
    expect(await dlq.count()).toBe(1);
    // Never deleted by BullMQ's own retention: only the store's.
    expect((await dlq.getJob(id))?.opts).toMatchObject({ removeOnComplete: false, removeOnFail: false });
    // A queue outside the contracts that has had records is counted too, in name order.
    const retired = sampleRecord({ queue: 'archive', jobId: '1', jobName: 'old', failedAt: T0 });
    await seed(store, [retired]);
    const counts = await store.counts();
    expect(counts).toEqual({ ...NONE, archive: 1, emails: 1 });
    expect(Object.keys(counts)).toEqual(['archive', ...Object.keys(catalog)].sort());
    await dlq.close();
    await store.close();
  });

  it('removes a record, its job and its index entries; the tombstone keeps it from being indexed again', async () => {
    const store = open();
    const record = sampleRecord({ queue: 'emails', jobId: '7', jobName: 'welcome', failedAt: T0 });
    const [id = ''] = await seed(store, [record]);
    await store.remove(id);
    expect(await store.get(id)).toBeUndefined();
    expect((await store.list({ limit: 10 })).items).toEqual([]);
    expect(await store.count()).toBe(0);
    expect(await store.count('emails')).toBe(0);
    const dlq = new Queue(deadLetters.name, { connection: redis.connection(), prefix: redis.prefix });
    expect(await dlq.getJob(id)).toBeUndefined();
    // A late duplicate of the same failure (a replayed event) is written but never listed.
    await store.capture(record);
    expect(await store.index(id, record)).toBe('tombstoned');
    expect(await store.get(id)).toBeUndefined();
    await expect(store.remove('emails.nope.1')).rejects.toBeInstanceOf(DeadLetterNotFoundError);
    await dlq.close();
    await store.close();
  });

  it("writes the attempts the job really had: a job on BullMQ's default (stored as 0) had one", async () => {
    const store = open();
    const [plain, retried] = await failJobs(redis, emails.name, [
      { name: 'welcome', data: { userId: 1, to: 'ada@example.com' }, opts: {} },
      { name: 'welcome', data: { userId: 2, to: 'ada@example.com' }, opts: { attempts: 2 } },
    ]);
    if (!plain || !retried) throw new Error('jobs missing');
    // What BullMQ keeps for a job added without attempts, and what the record used to copy.
    expect(plain.opts.attempts).toBe(0);
    expect(plain.attemptsMade).toBe(1);
    // As the worker runtime (live path) and reconciliation write records.
    const plainId = await store.capture(toDeadLetter(plain));
    const retriedId = await store.capture(toDeadLetter(retried));
    expect((await store.get(plainId))?.record).toMatchObject({ options: { attempts: 1 }, attemptsMade: 1 });
    expect((await store.get(retriedId))?.record).toMatchObject({ options: { attempts: 2 }, attemptsMade: 2 });
    // bull-board shows the record job's data: the same options.
    const job = await store.deadLetterQueue.getJob(plainId);
    expect(job?.data).toMatchObject({ options: { attempts: 1 } });
    await store.close();
  });
});
