import { emails, ORIGIN_OPTION, withOrigin } from '@jobfleet/queue-contracts';
import { useTestRedis } from '@jobfleet/test-utils';
import { Queue } from 'bullmq';
import { describe, expect, it } from 'vitest';
import {
  DeadLetterAlreadyRedrivenError,
  DeadLetterNotFoundError,
  DeadLetterPayloadError,
  DeadLetterQueryError,
  DeadLetterStore,
  DeadLetterUnknownQueueError,
  redriveJobId,
} from '../src/index.js';
import { sampleRecord, seed } from './helpers.js';

const T0 = Date.parse('2030-01-01T00:00:00.000Z');

describe('dead-letter store: redrive', () => {
  const redis = useTestRedis();

  function setup() {
    const store = new DeadLetterStore({ connection: redis.connection(), prefix: redis.prefix });
    const queue = new Queue(emails.name, { connection: redis.connection(), prefix: redis.prefix });
    return { store, queue };
  }

  it('sends the record back with a replacement payload, fresh attempts and its origin, and keeps an audit entry', async () => {
    const { store, queue } = setup();
    const origin = withOrigin({ attempts: 1 }, { client: 'billing', tenant: 'acme' });
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
});
