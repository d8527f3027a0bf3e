import type { StoredDeadLetter } from '@jobfleet/dead-letter-store';
import { DEAD_LETTER_JOB, deadLetterId, deadLetters, emails } from '@jobfleet/queue-contracts';
import { promtoolCheckMetrics, useTestRedis } from '@jobfleet/test-utils';
import { Queue } from 'bullmq';
import { afterEach, describe, expect, it } from 'vitest';
import {
  addWelcomes,
  emailWorker,
  failure,
  startProcessor,
  sumMetric,
  waitFor,
  workerEvents,
} from './helpers.js';

const DAY = 86_400_000;

/** Redis's order of a sorted set: score, then the member's bytes. */
const byFailure = (a: StoredDeadLetter, b: StoredDeadLetter) =>
  Date.parse(a.record.failedAt) - Date.parse(b.record.failedAt) ||
  Buffer.compare(Buffer.from(a.id), Buffer.from(b.id));

describe('retention', () => {
  const redis = useTestRedis();
  const cleanup: Array<() => Promise<unknown>> = [];
  afterEach(async () => {
    for (const step of cleanup.splice(0).reverse()) await step().catch(() => {});
  });

  it('trims the oldest records beyond the limit and those past the age, and the metrics agree with the store', async () => {
    const processor = await startProcessor(redis, {
      DLQ_MAX_RECORDS: '20',
      DLQ_RETENTION_DAYS: '14',
      DLQ_RETENTION_INTERVAL_MS: '1h',
    });
    cleanup.push(() => processor.close());
    const { store } = processor.resources;
    const worker = await emailWorker(redis);
    cleanup.push(() => worker.close());
    // The runtime counts a job after it completed, a moment after its record was indexed.
    const counted = workerEvents(processor.worker, 'completed', 31);
    await addWelcomes(redis, 30);
    await waitFor(async () => (await store.count(emails.name)) === 30, '30 records');
    // A record from three weeks ago, as a worker wrote it then.
    const [template] = (await store.list({ limit: 1 })).items;
    if (!template) throw new Error('no record to copy');
    const old = {
      ...template.record,
      jobId: 'ancient',
      failedAt: new Date(Date.now() - 21 * DAY).toISOString(),
    };
    await store.capture(old);
    await waitFor(async () => (await store.count(emails.name)) === 31, 'the old record');

    const before = (await store.list({ limit: 100 })).items.sort(byFailure);
    const result = await processor.resources.applyRetention();
    expect(result).toEqual({ ran: true, trimmed: { emails: { age: 1, count: 10 } } });

    const after = (await store.list({ limit: 100 })).items.sort(byFailure);
    expect(after.map((s) => s.id)).toEqual(before.slice(11).map((s) => s.id));
    expect(before[0]?.record.jobId).toBe('ancient');
    expect(await store.count(emails.name)).toBe(20);
    const dlq = new Queue(deadLetters.name, { connection: redis.connection(), prefix: redis.prefix });
    cleanup.push(() => dlq.close());
    expect(
      Object.values(await dlq.getJobCounts('waiting', 'active', 'completed', 'failed', 'delayed')),
    ).toEqual([0, 0, 20, 0, 0]);

    await counted;
    expect(
      sumMetric(await processor.registry.metrics(), 'jobfleet_jobs_processed_total', 'queue="dead-letters"'),
    ).toBeGreaterThanOrEqual(31);
    const text = await (await fetch(`${processor.metricsUrl}/metrics`)).text();
    expect(sumMetric(text, 'jobfleet_dead_letters', 'queue="emails"')).toBe(await store.count(emails.name));
    expect(sumMetric(text, 'jobfleet_dead_letters', 'queue="reports"')).toBe(0);
    expect(text).toContain('jobfleet_dead_letters_trimmed_total{queue="emails",reason="count"} 10');
    expect(text).toContain('jobfleet_dead_letters_trimmed_total{queue="emails",reason="age"} 1');
    expect(text).toContain('jobfleet_dead_letters_total{queue="emails",job_name="welcome"} 31');
    expect(text).toContain('jobfleet_dead_letters_total{queue="reports",job_name="daily-report"} 0');
    // The worker runtime's core metrics, for the dead-letters queue: each record job completed once.
    expect(text).toContain(
      'jobfleet_jobs_processed_total{queue="dead-letters",job_name="dead-letter",outcome="completed"} 31',
    );
    expect(text).toContain(
      'jobfleet_jobs_processed_total{queue="dead-letters",job_name="dead-letter",outcome="dead_lettered"} 0',
    );
    expect(text).toMatch(
      /^jobfleet_job_duration_seconds_count\{queue="dead-letters",job_name="dead-letter",outcome="completed"\} \d+$/m,
    );
    expect(text).toMatch(
      /^jobfleet_job_wait_seconds_count\{queue="dead-letters",job_name="dead-letter"\} \d+$/m,
    );
    expect(text).toMatch(/^jobfleet_jobs_stalled_total\{queue="dead-letters"\} \d+$/m);
    expect(text).toContain('jobfleet_worker_active_jobs{queue="dead-letters"} 0');
    expect(promtoolCheckMetrics(text)).toBe('');
  });

  it("keeps records past BullMQ's own retention of the records the worker writes (14 days): only DLQ_RETENTION_DAYS counts", async () => {
    const processor = await startProcessor(redis, {
      DLQ_RETENTION_DAYS: '30',
      DLQ_RETENTION_INTERVAL_MS: '1h',
    });
    cleanup.push(() => processor.close());
    const { store } = processor.resources;
    const worker = await emailWorker(redis);
    cleanup.push(() => worker.close());
    // Its job must have completed before the test backdates that completion.
    const firstProcessed = workerEvents(processor.worker, 'completed', 1);
    await addWelcomes(redis, 1);
    await firstProcessed;
    expect(await store.count(emails.name)).toBe(1);
    const [first] = (await store.list({ limit: 1 })).items;
    // Make it a record that was processed 20 days ago.
    const admin = redis.connection();
    const longAgo = Date.now() - 20 * DAY;
    await admin.zadd(`${redis.prefix}:${deadLetters.name}:completed`, longAgo, first?.id ?? '');
    await admin.hset(store.keys.job(first?.id ?? ''), 'finishedOn', longAgo);

    // The next record completes with the options the worker gave it (removeOnComplete: 14 days).
    const secondProcessed = workerEvents(processor.worker, 'completed', 1);
    await addWelcomes(redis, 1, 1);
    await secondProcessed;
    expect(await store.count(emails.name)).toBe(2);
    const dlq = new Queue(deadLetters.name, { connection: redis.connection(), prefix: redis.prefix });
    cleanup.push(() => dlq.close());
    expect(await dlq.getCompletedCount()).toBe(2);
    expect(await store.get(first?.id ?? '')).toBeDefined();
  });

  it("keeps a record job added without retention options of its own, whatever the runtime's worker-level defaults", async () => {
    const processor = await startProcessor(redis, {
      DLQ_RETENTION_DAYS: '30',
      DLQ_RETENTION_INTERVAL_MS: '1h',
    });
    cleanup.push(() => processor.close());
    const dlq = new Queue(deadLetters.name, { connection: redis.connection(), prefix: redis.prefix });
    cleanup.push(() => dlq.close());
    // Added by hand or by an older writer: BullMQ would give it the worker's removeOnComplete,
    // which the runtime takes from the contract's defaults (14 days).
    const add = async (jobId: string) => {
      const now = Date.now();
      const record = failure(jobId, now);
      const id = deadLetterId(record.queue, record.jobId, now);
      const processed = workerEvents(processor.worker, 'completed', 1, (job) => job.id === id);
      await dlq.add(DEAD_LETTER_JOB, record, { jobId: id });
      await processed;
      expect(await dlq.getJobState(id)).toBe('completed');
      return id;
    };
    const first = await add('first');
    // Make it a record job that completed 20 days ago.
    const admin = redis.connection();
    const longAgo = Date.now() - 20 * DAY;
    await admin.zadd(`${redis.prefix}:${deadLetters.name}:completed`, longAgo, first);
    await admin.hset(processor.resources.store.keys.job(first), 'finishedOn', longAgo);

    await add('second');
    expect(await dlq.getJobState(first)).toBe('completed');
    expect((await processor.resources.store.get(first))?.record.jobId).toBe('first');
  });

  it('deletes a record job that arrives after its record was removed, without indexing it', async () => {
    const processor = await startProcessor(redis);
    cleanup.push(() => processor.close());
    const { store } = processor.resources;
    const worker = await emailWorker(redis);
    cleanup.push(() => worker.close());
    await addWelcomes(redis, 1);
    await waitFor(async () => (await store.count(emails.name)) === 1, 'the record');
    const [item] = (await store.list({ limit: 1 })).items;
    if (!item) throw new Error('no record');
    await store.remove(item.id);
    // The same failure written again (a replayed event): the processor must not bring it back.
    await store.capture(item.record);
    const dlq = new Queue(deadLetters.name, { connection: redis.connection(), prefix: redis.prefix });
    cleanup.push(() => dlq.close());
    await waitFor(
      async () => (await dlq.getJob(item.id)) === undefined,
      'the replayed record job to be deleted',
    );
    expect(await store.count()).toBe(0);
    expect(await store.get(item.id)).toBeUndefined();
  });

  it('runs by itself every DLQ_RETENTION_INTERVAL_MS', async () => {
    const processor = await startProcessor(redis, { DLQ_MAX_RECORDS: '5', DLQ_RETENTION_INTERVAL_MS: '100' });
    cleanup.push(() => processor.close());
    const worker = await emailWorker(redis);
    cleanup.push(() => worker.close());
    await addWelcomes(redis, 8);
    await waitFor(
      async () => sumMetric(await processor.registry.metrics(), 'jobfleet_dead_letters_trimmed_total') === 3,
      'three records trimmed',
    );
    expect(await processor.resources.store.count(emails.name)).toBe(5);
  });
});
