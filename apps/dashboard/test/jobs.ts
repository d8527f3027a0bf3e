import { DeadLetterStore } from '@jobfleet/dead-letter-store';
import { type DeadLetter, deadLetters, emails } from '@jobfleet/queue-contracts';
import { createLogger, createMetricsRegistry, createRedisConnection } from '@jobfleet/service-kit';
import { createWorkerRuntime, type HandlerMap } from '@jobfleet/worker-runtime';
import { type Job, Queue, QueueEvents, Worker } from 'bullmq';

/** Welcome e-mails to this address fail while `failing` is true; every other job completes. */
export const FAILING_ADDRESS = 'fail@example.com';

export interface EmailWorker {
  /** Whether jobs to {@link FAILING_ADDRESS} fail now; turn off to let a retried job complete. */
  failing: boolean;
  close(): Promise<void>;
}

/**
 * A real jobfleet worker (worker-runtime, so BullMQ metrics and dead-lettering
 * happen as in production) on the `emails` queue, with handlers that finish at
 * once, or throw for {@link FAILING_ADDRESS} while `failing` is set.
 */
export function startEmailWorker(redis: { url: string; prefix: string }): EmailWorker {
  const connection = createRedisConnection({ url: redis.url, flavour: 'worker', name: 'test-worker' });
  const state = { failing: true };
  const send = async (data: { to: string }) => {
    if (state.failing && data.to === FAILING_ADDRESS) throw new Error('mailbox unavailable (test)');
    return { messageId: `<${Math.random().toString(36).slice(2)}@test>`, transport: 'outbox' as const };
  };
  const handlers: HandlerMap<typeof emails> = {
    welcome: send,
    'password-reset': send,
    notification: send,
  };
  const runtime = createWorkerRuntime({
    contract: emails,
    handlers,
    connection,
    prefix: redis.prefix,
    logger: createLogger({ service: 'test-worker', level: 'silent' }),
    registry: createMetricsRegistry(),
    concurrency: 5,
  });
  return {
    get failing() {
      return state.failing;
    },
    set failing(value: boolean) {
      state.failing = value;
    },
    async close() {
      await runtime.close(5_000);
      await connection.quit().catch(() => connection.disconnect());
    },
  };
}

export interface EmailQueue {
  queue: Queue;
  events: QueueEvents;
  /** Resolves when the job with this id completes next (an event, so a retried job counts). */
  completion(jobId: string): Promise<void>;
  /** Adds a welcome e-mail with one attempt and waits until it completed or failed for good. */
  finished(to: string, jobId?: string): Promise<Job>;
  close(): Promise<void>;
}

/** The `emails` queue as a producer sees it, with its events. */
export async function emailQueue(redis: { url: string; prefix: string }): Promise<EmailQueue> {
  const queue = new Queue(emails.name, { connection: { url: redis.url }, prefix: redis.prefix });
  const events = new QueueEvents(emails.name, { connection: { url: redis.url }, prefix: redis.prefix });
  await Promise.all([queue.waitUntilReady(), events.waitUntilReady()]);
  return {
    queue,
    events,
    completion(jobId) {
      return new Promise<void>((resolve) => {
        const onCompleted = ({ jobId: id }: { jobId: string }) => {
          if (id !== jobId) return;
          events.off('completed', onCompleted);
          resolve();
        };
        events.on('completed', onCompleted);
      });
    },
    async finished(to, jobId) {
      const job = await queue.add(
        'welcome',
        { userId: 1, to },
        { attempts: 1, removeOnComplete: false, removeOnFail: false, ...(jobId ? { jobId } : {}) },
      );
      await job.waitUntilFinished(events).catch(() => {});
      const done = await queue.getJob(String(job.id));
      if (!done) throw new Error(`job ${job.id} vanished`);
      return done;
    },
    async close() {
      await events.close();
      await queue.close();
    },
  };
}

export interface DeadLetterIndexer {
  /** The store on the indexer's connection, for arranging records directly. */
  store: DeadLetterStore;
  /** The id of the next record the indexer completes (records completed before the call are kept in order). */
  nextRecord(): Promise<string>;
  close(): Promise<void>;
}

/**
 * What the DLQ processor does with each record job, and no more: indexes it
 * and completes it, so records sit in `completed` as they do in production.
 */
export function startDeadLetterIndexer(redis: { url: string; prefix: string }): DeadLetterIndexer {
  const connection = createRedisConnection({ url: redis.url, flavour: 'worker', name: 'test-dlq' });
  const store = new DeadLetterStore({ connection, prefix: redis.prefix });
  const done: string[] = [];
  const waiting: Array<(id: string) => void> = [];
  const worker = new Worker<DeadLetter>(
    deadLetters.name,
    async (job) => {
      await store.index(String(job.id), job.data);
    },
    { connection, prefix: redis.prefix },
  );
  worker.on('completed', (job) => {
    const next = waiting.shift();
    if (next) next(String(job.id));
    else done.push(String(job.id));
  });
  return {
    store,
    nextRecord() {
      const id = done.shift();
      return id !== undefined ? Promise.resolve(id) : new Promise((resolve) => waiting.push(resolve));
    },
    async close() {
      await worker.close();
      await store.close();
      await connection.quit().catch(() => connection.disconnect());
    },
  };
}
