import type { TestRedis } from '@jobfleet/test-utils';
import { type Job, type JobsOptions, Queue, Worker } from 'bullmq';
import type { DeadLetter, DeadLetterStore } from '../src/index.js';

/** A well-formed record without a BullMQ job behind it, for index and query tests. */
export function sampleRecord(
  fields: Pick<DeadLetter, 'queue' | 'jobId' | 'jobName'> & { failedAt: number } & Omit<
      Partial<DeadLetter>,
      'failedAt'
    >,
): DeadLetter {
  const { failedAt, ...rest } = fields;
  return {
    data: { userId: 1, to: 'ada@example.com' },
    options: { attempts: 1 },
    failedReason: 'boom',
    stacktrace: [],
    attemptsMade: 1,
    enqueuedAt: new Date(failedAt - 1_000).toISOString(),
    ...rest,
    failedAt: new Date(failedAt).toISOString(),
  };
}

/** Writes records as the worker and the DLQ processor would: captured, then indexed. */
export async function seed(store: DeadLetterStore, records: DeadLetter[]): Promise<string[]> {
  const ids: string[] = [];
  for (const record of records) {
    const id = await store.capture(record);
    await store.index(id, record);
    ids.push(id);
  }
  return ids;
}

export interface FailingJob {
  name: string;
  data: unknown;
  /** The error message the worker fails it with. */
  reason?: string;
  /** Default `{ attempts: 1 }`; given options replace it (`{}`: BullMQ's own default, one attempt). */
  opts?: JobsOptions;
}

/**
 * Adds jobs and fails each once, for good, with a plain BullMQ worker: the
 * failed set fills, and no dead-letter record is written (a worker that died
 * before writing them, as far as the store can tell).
 */
export async function failJobs(redis: TestRedis, queueName: string, jobs: FailingJob[]): Promise<Job[]> {
  const queue = new Queue(queueName, { connection: redis.connection(), prefix: redis.prefix });
  const added = await queue.addBulk(
    jobs.map((job) => ({
      name: job.name,
      data: { payload: job.data, reason: job.reason ?? 'boom' },
      opts: job.opts ?? { attempts: 1 },
    })),
  );
  // The payload is wrapped so the worker knows the reason; unwrap it before the job fails for good.
  const worker = new Worker(
    queueName,
    async (job) => {
      const { payload, reason } = job.data as { payload: unknown; reason: string };
      await job.updateData(payload);
      throw new Error(reason);
    },
    { connection: redis.connection(), prefix: redis.prefix, concurrency: 10 },
  );
  // Listening from the worker's creation on, before it can emit: BullMQ emits `failed` once the job
  // is in the failed set, and sets `finishedOn` only when the failure is final.
  const ids = new Set(added.map((job) => job.id));
  await new Promise<void>((resolve, reject) => {
    if (ids.size === 0) return resolve();
    let seen = 0;
    const timer = setTimeout(
      () => reject(new Error(`${seen} of ${ids.size} jobs failed for good after 10 s`)),
      10_000,
    );
    worker.on('failed', (job) => {
      if (!job?.finishedOn || !ids.has(job.id) || ++seen < ids.size) return;
      clearTimeout(timer);
      resolve();
    });
  });
  await worker.close();
  const failed = await Promise.all(added.map((job) => queue.getJob(job.id ?? '')));
  await queue.close();
  return failed.filter((job): job is Job => job !== undefined);
}

/**
 * Watches the Redis server (MONITOR) for reads of record jobs under `prefix`:
 * `reads()` settles (a marker command seen after everything sent before it)
 * and returns the record ids read so far, one per `HMGET`, in order.
 */
export async function watchRecordReads(redis: TestRedis, prefix: string) {
  const monitor = await redis.connection().monitor();
  const jobKeys = `${prefix}:dead-letters:`;
  const seen: string[] = [];
  const markers = new Map<string, () => void>();
  monitor.on('monitor', (_time: string, args: string[]) => {
    const [command = '', key = ''] = args;
    if (command.toLowerCase() === 'echo') markers.get(key)?.();
    else if (command.toLowerCase() === 'hmget' && key.startsWith(jobKeys)) {
      seen.push(key.slice(jobKeys.length));
    }
  });
  const client = redis.connection();
  return {
    async reads(): Promise<string[]> {
      const marker = `${prefix}:marker:${seen.length}:${Math.random()}`;
      const arrived = new Promise<void>((resolve) => markers.set(marker, resolve));
      await client.echo(marker);
      await arrived;
      markers.delete(marker);
      return seen.splice(0);
    },
    close: () => monitor.disconnect(),
  };
}
