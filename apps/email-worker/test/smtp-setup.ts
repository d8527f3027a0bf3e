import { randomUUID } from 'node:crypto';
import { type DeadLetter, deadLetters, emails } from '@jobfleet/queue-contracts';
import { useTestRedis } from '@jobfleet/test-utils';
import type { HandlerMap } from '@jobfleet/worker-runtime';
import { type Job, Queue, QueueEvents } from 'bullmq';
import { afterEach } from 'vitest';
import { type InProcessWorker, startInProcessWorker } from './start-worker.js';
import { startTestSmtpServer, type TestSmtpServer, type TestSmtpServerOptions } from './test-smtp-server.js';

export interface SmtpSetupOptions {
  server?: TestSmtpServerOptions;
  /** `SMTP_URL` for the worker; the test server's URL by default. */
  smtpUrl?: (server: TestSmtpServer) => string;
  env?: Record<string, string>;
  wrap?: (handlers: HandlerMap<typeof emails>) => HandlerMap<typeof emails>;
}

/**
 * Call at the top of a test file: each test gets its own Redis prefix, a
 * scripted SMTP server and an in-process email worker delivering to it; all
 * of them are closed after the test.
 */
export function useSmtpWorker() {
  const redis = useTestRedis();
  const cleanup: Array<() => unknown> = [];
  afterEach(async () => {
    for (const step of cleanup.splice(0).reverse()) await step();
  });

  async function setup(options: SmtpSetupOptions = {}) {
    const smtp = await startTestSmtpServer(options.server);
    cleanup.push(() => smtp.close());
    const prefix = redis.prefix;
    const connection = redis.connection();
    const queue = new Queue(emails.name, { connection, prefix });
    const dlq = new Queue<DeadLetter>(deadLetters.name, { connection, prefix });
    const events = new QueueEvents(emails.name, { connection: { url: redis.url }, prefix });
    const dlqEvents = new QueueEvents(deadLetters.name, { connection: { url: redis.url }, prefix });
    cleanup.push(
      () => queue.close(),
      () => dlq.close(),
      () => events.close(),
      () => dlqEvents.close(),
    );
    await Promise.all([events.waitUntilReady(), dlqEvents.waitUntilReady()]);
    const worker: InProcessWorker = await startInProcessWorker({
      redisUrl: redis.url,
      prefix,
      env: { SMTP_URL: options.smtpUrl ? options.smtpUrl(smtp) : smtp.url, ...options.env },
      wrap: options.wrap,
    });
    cleanup.push(() => worker.close());

    /** Adds a job with the contract's options (its retries and backoff) unless told otherwise. */
    const add = <N extends 'welcome' | 'password-reset' | 'notification'>(
      name: N,
      data: Record<string, unknown>,
      extra: object = {},
    ) => queue.add(name, data, { ...emails.defaultJobOptions, jobId: `${name}-${randomUUID()}`, ...extra });

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

    /** Every dead-letter record of `jobId`. */
    const deadLettersOf = async (jobId: string) =>
      (await dlq.getJobs(['waiting', 'active', 'completed', 'failed', 'delayed', 'prioritized'])).filter(
        (record) => record.data.jobId === jobId,
      );

    /** Resolves with the error of the next failed attempt of `jobId` (retried or final). */
    const nextFailure = (jobId: string) =>
      new Promise<Error>((resolve) => {
        const onFailed = (job: Job | undefined, error: Error) => {
          if (job?.id !== jobId) return;
          worker.worker.off('failed', onFailed);
          resolve(error);
        };
        worker.worker.on('failed', onFailed);
      });

    const scrape = async () => (await fetch(`${worker.metricsUrl}/metrics`)).text();

    return { smtp, queue, dlq, events, worker, redis, add, deadLetterOf, deadLettersOf, nextFailure, scrape };
  }

  return { redis, setup };
}
