import { emails } from '@jobfleet/queue-contracts';
import { describe, expect, it } from 'vitest';
import { useSmtpWorker } from './smtp-setup.js';

const { setup } = useSmtpWorker();
const JOBS = 1_000;

describe('SMTP delivery in bulk', () => {
  it('delivers 1,000 welcome jobs through the pooled connections: all once, none lost, none duplicated', async () => {
    const { smtp, queue, events, worker } = await setup();
    let completed = 0;
    const allCompleted = new Promise<void>((resolve) => {
      events.on('completed', () => {
        completed += 1;
        if (completed === JOBS) resolve();
      });
    });
    const started = performance.now();
    const jobs = await queue.addBulk(
      Array.from({ length: JOBS }, (_, i) => ({
        name: 'welcome',
        data: { userId: i, to: `user-${i}@example.com`, name: `User ${i}` },
        opts: { ...emails.defaultJobOptions },
      })),
    );
    await allCompleted;
    const seconds = (performance.now() - started) / 1000;

    // Exactly one message per job, each under its job's Message-ID, to its job's recipient.
    const expected = new Map(
      jobs.map((job) => [`<emails.${job.id}.${job.timestamp}@jobfleet.local>`, job.data.to as string]),
    );
    expect(smtp.messages).toHaveLength(JOBS);
    const delivered = new Map(smtp.messages.map((m) => [m.messageId, m.rcptTo]));
    expect(delivered.size).toBe(JOBS);
    for (const [messageId, to] of expected) expect(delivered.get(messageId)).toEqual([to]);

    expect(await queue.getJobCounts('completed', 'failed', 'delayed', 'wait', 'active')).toEqual({
      completed: JOBS,
      failed: 0,
      delayed: 0,
      wait: 0,
      active: 0,
    });
    // Pooled: never more than SMTP_MAX_CONNECTIONS (5) at once, each reused for up to 100 messages.
    expect(smtp.connections.maxOpen).toBeLessThanOrEqual(5 + 1); // + the start-up readiness check
    expect(smtp.connections.total).toBeLessThanOrEqual(JOBS / 100 + 5 + 1);
    expect(smtp.transactions).toHaveLength(JOBS);
    expect(worker.logs.filter((line) => line.msg === 'e-mail delivered')).toHaveLength(JOBS);
    console.info(
      `1,000 welcome jobs over SMTP in ${seconds.toFixed(2)} s (${Math.round(JOBS / seconds)} messages/s), ` +
        `${smtp.connections.total} connections, at most ${smtp.connections.maxOpen} open`,
    );
  }, 60_000);
});
