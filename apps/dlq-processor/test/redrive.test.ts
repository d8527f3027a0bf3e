import {
  DeadLetterAlreadyRedrivenError,
  DeadLetterPayloadError,
  type DeadLetterStore,
} from '@jobfleet/dead-letter-store';
import { emails, ORIGIN_OPTION, withOrigin } from '@jobfleet/queue-contracts';
import { useTestRedis } from '@jobfleet/test-utils';
import { PermanentJobError } from '@jobfleet/worker-runtime';
import { Queue, QueueEvents } from 'bullmq';
import { afterEach, describe, expect, it } from 'vitest';
import { emailWorker, startProcessor, waitFor } from './helpers.js';

describe('fail → dead-letter → fix the payload → redrive', () => {
  const redis = useTestRedis();
  const cleanup: Array<() => Promise<unknown>> = [];
  afterEach(async () => {
    for (const step of cleanup.splice(0).reverse()) await step().catch(() => {});
  });

  it('the redriven job completes, the record shows the redrive, a second redrive conflicts, a bad payload is refused', async () => {
    const processor = await startProcessor(redis);
    cleanup.push(() => processor.close());
    // Delivery fails for good for one domain; any other address goes through.
    const send = async ({ to }: { to: string }) => {
      if (to.endsWith('@invalid.example')) throw new PermanentJobError('550 mailbox unavailable');
      return { messageId: `<${to}>`, transport: 'outbox' as const };
    };
    const worker = await emailWorker(redis, { welcome: send, 'password-reset': send, notification: send });
    cleanup.push(() => worker.close());
    const queue = new Queue(emails.name, { connection: redis.connection(), prefix: redis.prefix });
    const events = new QueueEvents(emails.name, { connection: { url: redis.url }, prefix: redis.prefix });
    cleanup.push(
      () => queue.close(),
      () => events.close(),
    );
    await events.waitUntilReady();

    const original = await queue.add(
      'welcome',
      { userId: 7, to: 'grace@invalid.example' },
      withOrigin({ ...emails.defaultJobOptions, jobId: 'signup-7' }, { client: 'signup', tenant: 'acme' }),
    );
    await expect(original.waitUntilFinished(events, 10_000)).rejects.toThrow('550 mailbox unavailable');
    const store: DeadLetterStore = processor.resources.store;
    await waitFor(async () => (await store.count(emails.name)) === 1, 'the record');
    const [listed] = (await store.list({ queue: emails.name, name: 'welcome', limit: 10 })).items;
    const id = listed?.id ?? '';
    expect(listed?.record).toMatchObject({
      jobId: 'signup-7',
      data: { userId: 7, to: 'grace@invalid.example' },
      failedReason: '550 mailbox unavailable',
      attemptsMade: 1,
    });

    // A replacement that breaks the contract: a named error with the issues, and nothing enqueued.
    const refused = await store
      .redrive(id, { by: 'ops', data: { userId: 7, to: 'grace at example' } })
      .catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(DeadLetterPayloadError);
    expect((refused as DeadLetterPayloadError).issues).toEqual([expect.objectContaining({ path: '/to' })]);
    expect(await queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized')).toEqual({
      waiting: 0,
      active: 0,
      delayed: 0,
      prioritized: 0,
    });

    // The fixed payload goes back with fresh attempts and the original origin, and completes.
    const sent = await store.redrive(id, { by: 'ops', data: { userId: 7, to: 'grace@example.com' } });
    const redriven = await queue.getJob(sent.jobId);
    expect(redriven?.opts).toMatchObject({
      attempts: emails.defaultJobOptions.attempts,
      [ORIGIN_OPTION]: { client: 'signup', tenant: 'acme' },
    });
    expect(await redriven?.waitUntilFinished(events, 10_000)).toEqual({
      messageId: '<grace@example.com>',
      transport: 'outbox',
    });
    expect(await redriven?.getState()).toBe('completed');

    const after = await store.get(id);
    expect(after?.record.redrive).toEqual({ by: 'ops', at: sent.redrive.at, jobId: sent.jobId });
    expect(after?.record.data).toEqual({ userId: 7, to: 'grace@invalid.example' });

    const again = await store.redrive(id, { by: 'ops' }).catch((error: unknown) => error);
    expect(again).toBeInstanceOf(DeadLetterAlreadyRedrivenError);
    expect(again).toMatchObject({ code: 'DEAD_LETTER_ALREADY_REDRIVEN', redrive: after?.record.redrive });
    expect(await queue.getJobCounts('waiting', 'active', 'delayed', 'completed')).toMatchObject({
      waiting: 0,
      completed: 1,
    });
  });
});
