import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type DeadLetter, deadLetters, emails } from '@jobfleet/queue-contracts';
import { useTestRedis } from '@jobfleet/test-utils';
import { type Job, Queue, QueueEvents } from 'bullmq';
import { afterEach, describe, expect, it } from 'vitest';
import { startInProcessWorker } from './start-worker.js';

const redis = useTestRedis();
const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

/** The outbox worker with its queue, the dead-letter queue and their events, all closed after the test. */
async function setup() {
  const outboxDir = mkdtempSync(join(tmpdir(), 'email-outbox-failures-'));
  cleanup.push(() => rmSync(outboxDir, { recursive: true, force: true }));
  const connection = redis.connection();
  const { prefix } = redis;
  const queue = new Queue(emails.name, { connection, prefix });
  const dlq = new Queue<DeadLetter>(deadLetters.name, { connection, prefix });
  const dlqEvents = new QueueEvents(deadLetters.name, { connection: { url: redis.url }, prefix });
  cleanup.push(
    () => queue.close(),
    () => dlq.close(),
    () => dlqEvents.close(),
  );
  await dlqEvents.waitUntilReady();
  const worker = await startInProcessWorker({ redisUrl: redis.url, prefix, outboxDir });
  cleanup.push(() => worker.close());

  /** Resolves with the dead-letter record of `jobId` once it is written. */
  const deadLetterOf = (jobId: string) =>
    new Promise<Job<DeadLetter>>((resolve) => {
      const onAdded = async ({ jobId: id }: { jobId: string }) => {
        if (!id.startsWith(`${emails.name}.${jobId}.`)) return;
        dlqEvents.off('added', onAdded);
        const record = await dlq.getJob(id);
        if (record) resolve(record);
      };
      dlqEvents.on('added', onAdded);
    });

  /** Every failed attempt of `jobId`, in order. */
  const failures: Array<{ jobId: string | undefined; attemptsMade: number; message: string }> = [];
  worker.worker.on('failed', (job, error) =>
    failures.push({ jobId: job?.id, attemptsMade: job?.attemptsMade ?? 0, message: error.message }),
  );

  return { outboxDir, queue, worker, deadLetterOf, failures };
}

describe('the outbox fails as an SMTP server would at the reserved domains', () => {
  it('dead-letters a job to reject.invalid after one attempt, with the 550 reply as its reason', async () => {
    const { outboxDir, queue, worker, deadLetterOf, failures } = await setup();
    // The contract's 5 attempts: a permanent failure must not use them.
    const job = await queue.add(
      'welcome',
      { userId: 1, to: 'someone@reject.invalid' },
      { ...emails.defaultJobOptions, jobId: 'reject-1' },
    );
    const record = await deadLetterOf('reject-1');

    const reason =
      'SMTP server replied 550 5.1.1 Recipient address rejected: reject.invalid refuses every message to RCPT TO';
    expect(record.data).toMatchObject({
      queue: 'emails',
      jobId: 'reject-1',
      jobName: 'welcome',
      attemptsMade: 1,
      failedReason: reason,
      data: { userId: 1, to: 'someone@reject.invalid' },
    });
    const failed = await queue.getJob(job.id ?? '');
    expect(await failed?.getState()).toBe('failed');
    expect(failed?.attemptsMade).toBe(1);
    expect(failures).toEqual([{ jobId: 'reject-1', attemptsMade: 1, message: reason }]);
    expect(readdirSync(outboxDir)).toEqual([]);
    expect(worker.logs).toContainEqual(
      expect.objectContaining({
        msg: 'e-mail refused for good by the SMTP server',
        job_id: 'reject-1',
        smtp_class: 'reply_5xx',
        smtp_code: 550,
        permanent: true,
      }),
    );
  });

  it('retries a job to tempfail.invalid until its attempts run out, then dead-letters it', async () => {
    const { outboxDir, queue, worker, deadLetterOf, failures } = await setup();
    await queue.add(
      'welcome',
      { userId: 2, to: 'someone@tempfail.invalid' },
      {
        ...emails.defaultJobOptions,
        jobId: 'tempfail-1',
        attempts: 3,
        backoff: { type: 'fixed', delay: 20 },
      },
    );
    const record = await deadLetterOf('tempfail-1');

    const reason =
      'SMTP server replied 451 4.3.0 Recipient deferred: tempfail.invalid defers every message to RCPT TO';
    expect(record.data).toMatchObject({ jobId: 'tempfail-1', attemptsMade: 3, failedReason: reason });
    expect(failures).toEqual(
      [1, 2, 3].map((attemptsMade) => ({ jobId: 'tempfail-1', attemptsMade, message: reason })),
    );
    expect(readdirSync(outboxDir)).toEqual([]);
    const deferred = worker.logs.filter((line) => line.msg === 'e-mail not delivered this time');
    expect(deferred).toHaveLength(3);
    expect(deferred[0]).toMatchObject({ smtp_class: 'reply_4xx', smtp_code: 451, permanent: false });
  });

  it('still delivers to any other address', async () => {
    const { outboxDir, queue, deadLetterOf } = await setup();
    const events = new QueueEvents(emails.name, { connection: { url: redis.url }, prefix: redis.prefix });
    cleanup.push(() => events.close());
    await events.waitUntilReady();
    const rejected = deadLetterOf('reject-2');
    await queue.add('welcome', { userId: 3, to: 'someone@reject.invalid' }, { jobId: 'reject-2' });
    const job = await queue.add('welcome', { userId: 4, to: 'ada@example.com' }, { jobId: 'ok-1' });
    const result = await job.waitUntilFinished(events, 10_000);
    await rejected;
    expect(result).toMatchObject({ transport: 'outbox' });
    expect(readdirSync(outboxDir)).toEqual([`${result.messageId.slice(1, -1)}.eml`]);
  });
});
