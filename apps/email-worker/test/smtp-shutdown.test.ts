import { setTimeout as sleep } from 'node:timers/promises';
import { emails } from '@jobfleet/queue-contracts';
import { useServiceProcesses, useTestRedis } from '@jobfleet/test-utils';
import { type Job, Queue } from 'bullmq';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { startTestSmtpServer } from './test-smtp-server.js';

/**
 * Shutdown of the real entrypoint (`node dist/main.js`) while a slow SMTP
 * server holds its replies: no message may reach the server twice.
 */

const MESSAGES = 12;
const CONNECTIONS = 3;
/** How long the server sits on each message before its `250`: messages are on the wire when SIGTERM comes. */
const REPLY_DELAY_MS = 800;

const redis = useTestRedis();
const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});
const processes = useServiceProcesses({ packageDir: new URL('..', import.meta.url), name: 'the worker' });

describe('email-worker shutdown with a slow SMTP server', () => {
  it('SIGTERM while messages wait for their reply and others wait for a connection: each message reaches the server exactly once across the old and new workers, and no job uses an attempt for it', async () => {
    const smtp = await startTestSmtpServer({ beforeAccept: () => sleep(REPLY_DELAY_MS) });
    cleanup.push(() => smtp.close());
    const queue = new Queue(emails.name, { connection: redis.connection(), prefix: redis.prefix });
    cleanup.push(() => queue.close());
    const env = {
      REDIS_URL: redis.url,
      JOBFLEET_PREFIX: redis.prefix,
      HOST: '127.0.0.1',
      METRICS_PORT: '0',
      SMTP_URL: smtp.url,
      SMTP_MAX_CONNECTIONS: String(CONNECTIONS),
      SMTP_SOCKET_TIMEOUT_MS: '10000',
      // A job left active would be found stalled within seconds and run again by the next worker.
      WORKER_LOCK_DURATION_MS: '1000',
      WORKER_STALLED_INTERVAL_MS: '1000',
    };
    const jobs = await queue.addBulk(
      Array.from({ length: MESSAGES }, (_, i) => ({
        name: 'notification' as const,
        data: { to: `user${i}@example.com`, subject: `Message ${i}`, text: `Body ${i}` },
        opts: emails.defaultJobOptions,
      })),
    );

    /** Starts a worker, waits until a connection's worth of messages more is on the wire, and stops it. */
    const interrupt = async (extra: Record<string, string>) => {
      const before = smtp.transactions.length;
      const worker = processes.spawn({ ...env, ...extra });
      await worker.waitForLog((line) => line.msg === 'worker started', 30_000);
      await vi.waitFor(() => expect(smtp.transactions.length).toBeGreaterThanOrEqual(before + CONNECTIONS), {
        timeout: 10_000,
        interval: 10,
      });
      expect(await worker.stop('SIGTERM')).toEqual({ code: 0, signal: null });
      // Nothing is left active for stalled-job recovery: each job completed or went back to wait.
      const counts = await queue.getJobCounts('active', 'waiting', 'completed', 'failed');
      expect(counts).toMatchObject({ active: 0, failed: 0 });
      expect(counts.completed).toBe(smtp.messages.length);
      expect(counts.waiting).toBe(MESSAGES - smtp.messages.length);
      return worker;
    };

    // Twice in a row, the deadline passes while messages wait for their reply (their handlers wait
    // for it) and others wait for a connection (their jobs go back to wait, never sent).
    for (let round = 1; round <= 2; round++) {
      const worker = await interrupt({ SHUTDOWN_TIMEOUT_MS: '200' });
      const requeued = worker.logs.filter(
        (line) => line.msg === 'job put back to wait at shutdown; it keeps its attempt',
      );
      expect(requeued.length, `round ${round}`).toBeGreaterThan(0);
    }
    expect(smtp.messages.length).toBeLessThan(MESSAGES);

    const last = processes.spawn(env);
    await last.waitForLog((line) => line.msg === 'worker started', 30_000);
    await vi.waitFor(async () => expect(await queue.getCompletedCount()).toBe(MESSAGES), { timeout: 20_000 });
    expect(await last.stop('SIGTERM')).toEqual({ code: 0, signal: null });

    const ids = smtp.messages.map((message) => message.messageId);
    expect(ids).toHaveLength(MESSAGES);
    expect(new Set(ids).size).toBe(MESSAGES);
    for (const job of jobs) {
      const stored = (await queue.getJob(job.id ?? '')) as Job;
      expect(await stored.getState()).toBe('completed');
      // One counted attempt: the restarts did not use any.
      expect(stored.attemptsMade).toBe(1);
      expect(ids).toContain(stored.returnvalue.messageId);
    }
  }, 120_000);
});
