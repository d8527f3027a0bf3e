import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { emails } from '@jobfleet/queue-contracts';
import { useTestRedis } from '@jobfleet/test-utils';
import { Queue, QueueEvents } from 'bullmq';
import { afterEach, describe, expect, it } from 'vitest';
import { startInProcessWorker } from './start-worker.js';

const redis = useTestRedis();
const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

describe('EMAIL_RATE_LIMIT', () => {
  it('limits messages per second across two worker replicas sharing one Redis', async () => {
    const outboxDir = mkdtempSync(join(tmpdir(), 'email-rate-'));
    cleanup.push(() => rmSync(outboxDir, { recursive: true, force: true }));
    const queue = new Queue(emails.name, { connection: redis.connection(), prefix: redis.prefix });
    const events = new QueueEvents(emails.name, { connection: { url: redis.url }, prefix: redis.prefix });
    cleanup.push(
      () => queue.close(),
      () => events.close(),
    );
    await events.waitUntilReady();
    // Two replicas, each allowed 10 per second on its own: together they must still send 10 per second.
    const replicas = await Promise.all(
      [1, 2].map(() =>
        startInProcessWorker({
          redisUrl: redis.url,
          prefix: redis.prefix,
          outboxDir,
          env: { EMAIL_RATE_LIMIT: '10', WORKER_CONCURRENCY: '10' },
        }),
      ),
    );
    for (const replica of replicas) cleanup.push(() => replica.close());

    const total = 25;
    let completed = 0;
    const allCompleted = new Promise<void>((resolve) => {
      events.on('completed', () => {
        completed += 1;
        if (completed === total) resolve();
      });
    });
    const jobs = await queue.addBulk(
      Array.from({ length: total }, (_, i) => ({
        name: 'welcome',
        data: { userId: i, to: `user-${i}@example.com` },
        opts: { ...emails.defaultJobOptions },
      })),
    );
    await allCompleted;

    const started = await Promise.all(
      jobs.map(async (job) => (await queue.getJob(job.id ?? ''))?.processedOn ?? 0),
    );
    started.sort((a, b) => a - b);
    const at = (i: number) => started[i] ?? Number.NaN;
    // 25 messages at 10 per second take three windows: the 11th starts a second after the 1st, the 21st two.
    expect(at(10) - at(0)).toBeGreaterThanOrEqual(950);
    expect(at(20) - at(0)).toBeGreaterThanOrEqual(1_950);
    expect(readdirSync(outboxDir).filter((name) => name.endsWith('.eml'))).toHaveLength(total);
    const perReplica = replicas.map((r) => r.logs.filter((line) => line.msg === 'e-mail delivered').length);
    expect(perReplica.reduce((sum, count) => sum + count, 0)).toBe(total);
    expect(replicas[0]?.logs).toContainEqual(
      expect.objectContaining({ msg: 'delivering e-mail to the outbox', rate_limit: 10 }),
    );
  });
});
