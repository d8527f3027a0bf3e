import { CALLBACK_OPTION, emails, ORIGIN_OPTION, withCallback, withOrigin } from '@jobfleet/queue-contracts';
import { useTestRedis } from '@jobfleet/test-utils';
import { Queue } from 'bullmq';
import { describe, expect, it } from 'vitest';
import {
  DeadLetterAlreadyRedrivenError,
  DeadLetterNotFoundError,
  DeadLetterPayloadError,
  DeadLetterQueryError,
  DeadLetterStore,
  DeadLetterStoredPayloadError,
  DeadLetterUnknownQueueError,
  redriveJobId,
} from '../src/index.js';
import { sampleRecord, seed, watchRecordReads } from './helpers.js';

const T0 = Date.parse('2030-01-01T00:00:00.000Z');

describe('dead-letter store: redrive', () => {
  const redis = useTestRedis();

  function setup() {
    const store = new DeadLetterStore({ connection: redis.connection(), prefix: redis.prefix });
    const queue = new Queue(emails.name, { connection: redis.connection(), prefix: redis.prefix });
    return { store, queue };
  }

  it('sends the record back with a replacement payload, fresh attempts, its origin and callback, and keeps an audit entry', async () => {
    const { store, queue } = setup();
    const origin = withCallback(withOrigin({ attempts: 1 }, { client: 'billing', tenant: 'acme' }), {
      url: 'https://billing.example.com/hook',
    });
    const record = sampleRecord({
      queue: 'emails',
      jobId: '9',
      jobName: 'welcome',
      failedAt: T0,
      data: { userId: 1, to: 'not an address' },
      options: origin,
    });
    const [id = ''] = await seed(store, [record]);

    const result = await store.redrive(id, { by: 'ops', data: { userId: 1, to: 'ada@example.com' } });
    expect(result).toMatchObject({ id, queue: 'emails', jobName: 'welcome', jobId: redriveJobId(id) });

    const job = await queue.getJob(result.jobId);
    expect(job?.name).toBe('welcome');
    expect(job?.data).toEqual({ userId: 1, to: 'ada@example.com' });
    expect(job?.opts).toMatchObject({
      attempts: emails.defaultJobOptions.attempts,
      backoff: emails.defaultJobOptions.backoff,
      [ORIGIN_OPTION]: { client: 'billing', tenant: 'acme' },
      [CALLBACK_OPTION]: { url: 'https://billing.example.com/hook' },
    });
    expect(job?.attemptsMade).toBe(0);

    const stored = await store.get(id);
    expect(stored?.record.redrive).toEqual({ by: 'ops', at: result.redrive.at, jobId: result.jobId });
    // The rest of the record is untouched.
    expect({ ...stored?.record, redrive: undefined }).toEqual({ ...record, redrive: undefined });

    const second = store.redrive(id, { by: 'someone-else' });
    await expect(second).rejects.toBeInstanceOf(DeadLetterAlreadyRedrivenError);
    await expect(second).rejects.toMatchObject({
      code: 'DEAD_LETTER_ALREADY_REDRIVEN',
      redrive: { by: 'ops' },
    });
    expect(await queue.count()).toBe(1);
    await Promise.all([store.close(), queue.close()]);
  });

  it('refuses a payload that does not fit the contract, naming the issues, and enqueues nothing', async () => {
    const { store, queue } = setup();
    const [id = ''] = await seed(store, [
      sampleRecord({ queue: 'emails', jobId: '1', jobName: 'welcome', failedAt: T0 }),
    ]);
    const attempt = store.redrive(id, { by: 'ops', data: { userId: 1, to: 'x', extra: true } });
    await expect(attempt).rejects.toBeInstanceOf(DeadLetterPayloadError);
    const error = (await attempt.catch((e: unknown) => e)) as DeadLetterPayloadError;
    expect(error.code).toBe('DEAD_LETTER_INVALID_PAYLOAD');
    expect(error.issues).toEqual(
      expect.arrayContaining([
        { path: '/extra', message: 'is not an allowed property' },
        expect.objectContaining({ path: '/to' }),
      ]),
    );
    expect(await queue.count()).toBe(0);
    expect((await store.get(id))?.record.redrive).toBeUndefined();
    // Still redrivable once the payload is right.
    await store.redrive(id, { by: 'ops', data: { userId: 1, to: 'ada@example.com' } });
    expect(await queue.count()).toBe(1);
    await Promise.all([store.close(), queue.close()]);
  });

  it('of two simultaneous redrives of one record, one adds the job and the other conflicts', async () => {
    const { store, queue } = setup();
    // A second store on its own connection: another gateway replica.
    const other = new DeadLetterStore({ connection: redis.connection(), prefix: redis.prefix });
    const ids = await seed(
      store,
      Array.from({ length: 10 }, (_, i) =>
        sampleRecord({ queue: 'emails', jobId: `c${i}`, jobName: 'welcome', failedAt: T0 + i }),
      ),
    );
    for (const id of ids) {
      const outcomes = await Promise.allSettled([
        store.redrive(id, { by: 'a', data: { userId: 1, to: 'a@example.com' } }),
        other.redrive(id, { by: 'b', data: { userId: 2, to: 'b@example.com' } }),
      ]);
      const fulfilled = outcomes.filter((o) => o.status === 'fulfilled');
      const rejected = outcomes.filter((o) => o.status === 'rejected');
      expect(fulfilled).toHaveLength(1);
      expect(rejected).toHaveLength(1);
      expect((rejected[0] as PromiseRejectedResult).reason).toBeInstanceOf(DeadLetterAlreadyRedrivenError);
    }
    expect(await queue.count()).toBe(10);
    await Promise.all([store.close(), other.close(), queue.close()]);
  });

  it('takes over a claim whose redriver died before finishing, without a second job', async () => {
    const { store, queue } = setup();
    const [id = ''] = await seed(store, [
      sampleRecord({ queue: 'emails', jobId: '1', jobName: 'welcome', failedAt: T0 }),
    ]);
    // What a redriver leaves when it dies right after claiming: fresh, then past the stale limit (30 s).
    const claim = (claimedAt: number) =>
      JSON.stringify({ state: 'pending', token: 'dead', claimedAt, by: 'x', at: '', jobId: 'x' });
    const admin = redis.connection();
    await admin.hset(store.keys.job(id), 'jobfleet:redrive', claim(Date.now()));
    await expect(store.redrive(id, { by: 'ops' })).rejects.toBeInstanceOf(DeadLetterAlreadyRedrivenError);
    await admin.hset(store.keys.job(id), 'jobfleet:redrive', claim(Date.now() - 31_000));
    // It had enqueued the job already; the takeover uses the same job id, so BullMQ keeps one job.
    await queue.add('welcome', { userId: 1, to: 'ada@example.com' }, { jobId: redriveJobId(id) });
    const result = await store.redrive(id, { by: 'ops' });
    expect(result.jobId).toBe(redriveJobId(id));
    expect(await queue.count()).toBe(1);
    expect((await store.get(id))?.record.redrive).toMatchObject({ by: 'ops', jobId: result.jobId });
    await Promise.all([store.close(), queue.close()]);
  });

  it('names the other refusals: unknown record, unknown queue, bad `by`', async () => {
    const { store, queue } = setup();
    await expect(store.redrive('emails.nope.1', { by: 'ops' })).rejects.toBeInstanceOf(
      DeadLetterNotFoundError,
    );
    const [id = ''] = await seed(store, [
      sampleRecord({ queue: 'retired', jobId: '1', jobName: 'old', failedAt: T0 }),
    ]);
    await expect(store.redrive(id, { by: 'ops' })).rejects.toBeInstanceOf(DeadLetterUnknownQueueError);
    await expect(store.redrive(id, { by: '' })).rejects.toBeInstanceOf(DeadLetterQueryError);
    await store.remove(id);
    await expect(store.redrive(id, { by: 'ops' })).rejects.toBeInstanceOf(DeadLetterNotFoundError);
    await Promise.all([store.close(), queue.close()]);
  });

  it('redrives in bulk by queue, name and reason, up to the limit, skipping redriven and unfit records', async () => {
    const { store, queue } = setup();
    const records = [
      ...Array.from({ length: 6 }, (_, i) =>
        sampleRecord({
          queue: 'emails',
          jobId: `smtp${i}`,
          jobName: 'welcome',
          failedAt: T0 + i,
          failedReason: 'SMTP 451 Temporary failure',
        }),
      ),
      sampleRecord({ queue: 'emails', jobId: 'other', jobName: 'welcome', failedAt: T0 + 10 }),
      sampleRecord({
        queue: 'emails',
        jobId: 'unfit',
        jobName: 'welcome',
        failedAt: T0 + 11,
        failedReason: 'smtp 451',
        data: { to: 'nobody' },
      }),
    ];
    const ids = await seed(store, records);
    await store.redrive(ids[0] ?? '', { by: 'ops' });

    const first = await store.redriveMany({
      queue: 'emails',
      reasonContains: 'smtp 451',
      limit: 3,
      by: 'ops',
    });
    expect(first).toMatchObject({ redriven: 3, skipped: 1, byQueue: { emails: 3 } });
    expect(first.jobIds).toHaveLength(3);
    const second = await store.redriveMany({
      name: 'welcome',
      reasonContains: 'SMTP',
      limit: 1_000,
      by: 'ops',
    });
    expect(second).toMatchObject({ redriven: 2, skipped: 1 });
    expect(await queue.count()).toBe(6);
    const third = await store.redriveMany({ reasonContains: 'smtp', limit: 1_000, by: 'ops' });
    expect(third).toMatchObject({ redriven: 0 });
    await expect(store.redriveMany({ limit: 1_001, by: 'ops' })).rejects.toBeInstanceOf(DeadLetterQueryError);
    await Promise.all([store.close(), queue.close()]);
  });

  it('says when the stored payload no longer fits, and asks for a replacement', async () => {
    const { store, queue } = setup();
    const [id = ''] = await seed(store, [
      sampleRecord({
        queue: 'emails',
        jobId: '1',
        jobName: 'welcome',
        failedAt: T0,
        data: { userId: 1, to: 'not an address' },
      }),
    ]);
    const error = (await store.redrive(id, { by: 'ops' }).catch((e: unknown) => e)) as Error;
    expect(error).toBeInstanceOf(DeadLetterStoredPayloadError);
    expect(error).toMatchObject({
      code: 'DEAD_LETTER_STORED_PAYLOAD_INVALID',
      issues: [expect.objectContaining({ path: '/to' })],
    });
    expect(error.message).toMatch(/stored payload .* no longer fits .*replacement payload as `data`/);
    expect(await queue.count()).toBe(0);
    // A replacement fixes it.
    await store.redrive(id, { by: 'ops', data: { userId: 1, to: 'ada@example.com' } });
    expect(await queue.count()).toBe(1);
    await Promise.all([store.close(), queue.close()]);
  });

  it('bulk: reads only what it needs, stops at `maxScanned`, and goes on from its cursor', async () => {
    const { store, queue } = setup();
    const ids = await seed(
      store,
      Array.from({ length: 30 }, (_, i) =>
        sampleRecord({ queue: 'emails', jobId: `b${i}`, jobName: 'welcome', failedAt: T0 + i }),
      ),
    );
    const newestFirst = [...ids].reverse();
    const watch = await watchRecordReads(redis, redis.prefix);

    // Fresh records: limit 5 reads 5 records, not the whole index.
    const first = await store.redriveMany({ limit: 5, by: 'ops' });
    expect(first).toMatchObject({ redriven: 5, skipped: 0, scanned: 5 });
    expect(first.nextCursor).toBeDefined();
    expect(await watch.reads()).toEqual(newestFirst.slice(0, 5));

    // From its cursor, the next five, without reading the redriven ones again.
    const next = await store.redriveMany({ limit: 5, by: 'ops', cursor: first.nextCursor });
    expect(next).toMatchObject({ redriven: 5, scanned: 5 });
    expect(await watch.reads()).toEqual(newestFirst.slice(5, 10));

    // Without one, it skips the ten redriven, reading in steps of 2, 2, 4 and 8, and stops at the limit.
    const again = await store.redriveMany({ limit: 2, by: 'ops' });
    expect(again).toMatchObject({ redriven: 2, scanned: 12 });
    expect(await watch.reads()).toEqual(newestFirst.slice(0, 16));

    // Nothing matches: at most `maxScanned` per call, then the cursor, to the end of the index.
    let cursor: string | undefined;
    const scans: number[] = [];
    do {
      const page = await store.redriveMany({
        limit: 1_000,
        maxScanned: 8,
        reasonContains: 'nope',
        by: 'ops',
        cursor,
      });
      expect(page.redriven).toBe(0);
      expect((await watch.reads()).length).toBe(page.scanned);
      scans.push(page.scanned);
      cursor = page.nextCursor;
    } while (cursor !== undefined && scans.length < 10);
    expect(scans).toEqual([8, 8, 8, 6]);

    // The rest, from the cursor of the limit-2 call: exactly the 18 left, so no cursor (nothing follows).
    const last = await store.redriveMany({ limit: 18, by: 'ops', cursor: again.nextCursor });
    expect(last).toMatchObject({ redriven: 18, scanned: 18, nextCursor: undefined });
    expect(await watch.reads()).toEqual(newestFirst.slice(12));
    expect(await queue.count()).toBe(30);
    await expect(store.redriveMany({ limit: 1, maxScanned: 0, by: 'ops' })).rejects.toBeInstanceOf(
      DeadLetterQueryError,
    );
    await expect(store.redriveMany({ limit: 1, cursor: 'nope!', by: 'ops' })).rejects.toBeInstanceOf(
      DeadLetterQueryError,
    );
    watch.close();
    await Promise.all([store.close(), queue.close()]);
  });
});
