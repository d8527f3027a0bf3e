import type { TestRedis } from '@jobfleet/test-utils';
import { Worker } from 'bullmq';

/**
 * A BullMQ worker that takes the next job of `queue` and then goes silent, as a
 * frozen or killed process would: its 500 ms lock is never renewed and it runs
 * no stalled checks, so another worker's stalled check finds the job.
 * `taken` resolves once it holds the job.
 */
export function frozenWorker(redis: TestRedis, queue: string) {
  let entered = () => {};
  const taken = new Promise<void>((resolve) => {
    entered = resolve;
  });
  const worker = new Worker(
    queue,
    async () => {
      entered();
      await new Promise(() => {});
    },
    {
      connection: redis.connection(),
      prefix: redis.prefix,
      lockDuration: 500,
      skipLockRenewal: true,
      skipStalledCheck: true,
    },
  );
  return { taken, close: () => worker.close(true) };
}
