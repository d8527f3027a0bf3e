import { DEAD_LETTER_JOB, type DeadLetter, deadLetters, emails } from '@jobfleet/queue-contracts';
import { useTestRedis } from '@jobfleet/test-utils';
import { Queue, QueueEvents } from 'bullmq';
import { afterEach, describe, expect, it } from 'vitest';
import { failure, startProcessor, sumMetric, waitFor, workerEvents } from './helpers.js';

const STATES = ['waiting', 'active', 'completed', 'failed', 'delayed', 'prioritized'] as const;

describe('what the dead-letters worker is handed', () => {
  const redis = useTestRedis();
  const cleanup: Array<() => Promise<unknown>> = [];
  afterEach(async () => {
    for (const step of cleanup.splice(0).reverse()) await step().catch(() => {});
  });

  it("indexes records that break the contract (a newer writer's field, a job name longer than allowed), and records no tenant usage", async () => {
    const processor = await startProcessor(redis);
    cleanup.push(() => processor.close());
    const { store } = processor.resources;
    const longName = `welcome-${'x'.repeat(200)}`;
    const withField = { ...failure('with-field'), tenant: 'acme' };
    const longNamed: DeadLetter = { ...failure('long-name'), jobName: longName };
    const ids = [await store.capture(withField), await store.capture(longNamed)];

    await waitFor(async () => (await store.count(emails.name)) === 2, 'both records indexed');
    expect((await store.get(ids[0] ?? ''))?.record).toMatchObject({ jobId: 'with-field', tenant: 'acme' });
    const listed = await store.list({ queue: emails.name, name: longName, limit: 10 });
    expect(listed.items.map((item) => item.id)).toEqual([ids[1]]);
    const text = await processor.registry.metrics();
    // Counted under closed label sets: a job name the contract lacks is `unknown`.
    expect(text).toContain('jobfleet_dead_letters_total{queue="emails",job_name="welcome"} 1');
    expect(text).toContain('jobfleet_dead_letters_total{queue="emails",job_name="unknown"} 1');

    // Closing flushes the runtime's usage ledger: indexing records is no tenant's usage.
    await processor.close();
    const admin = redis.connection();
    expect(await admin.keys(`${redis.prefix}:jobfleet:usage:*`)).toEqual([]);
  });

  it('fails a job that is not a record at once, keeps it, and writes no record of its failure', async () => {
    const processor = await startProcessor(redis);
    cleanup.push(() => processor.close());
    const dlq = new Queue(deadLetters.name, { connection: redis.connection(), prefix: redis.prefix });
    const events = new QueueEvents(deadLetters.name, {
      connection: { url: redis.url },
      prefix: redis.prefix,
    });
    cleanup.push(
      () => dlq.close(),
      () => events.close(),
    );
    await events.waitUntilReady();

    // The runtime counts the final failure in its own 'failed' listener, registered before this one.
    const failedForGood = workerEvents(processor.worker, 'failed', 1, (failed) => Boolean(failed.finishedOn));
    const job = await dlq.add(DEAD_LETTER_JOB, { note: 'not a record' }, { attempts: 3 });
    await expect(job.waitUntilFinished(events, 10_000)).rejects.toThrow('not a dead-letter record');
    await failedForGood;
    expect(
      sumMetric(
        await processor.registry.metrics(),
        'jobfleet_jobs_processed_total',
        'queue="dead-letters",job_name="dead-letter",outcome="dead_lettered"',
      ),
    ).toBe(1);

    // Closing waits for any dead-letter write of the runtime: there must be none, into the queue it reads.
    await processor.close();
    expect(await dlq.getJobCounts(...STATES)).toMatchObject({ failed: 1, completed: 0, waiting: 0 });
    expect((await dlq.getJob(String(job.id)))?.attemptsMade).toBe(1);
  });
});
