import { DeadLetterStore } from '@jobfleet/dead-letter-store';
import {
  pendingCallbacksKey,
  webhookDeliveryId,
  webhooks,
  withCallback,
  withOrigin,
} from '@jobfleet/queue-contracts';
import { useServiceProcesses, useTestRedis } from '@jobfleet/test-utils';
import { Queue } from 'bullmq';
import { afterEach, describe, expect, it } from 'vitest';
import { pings } from './fixture-contract.js';

describe('a worker killed between a completion and its webhook', () => {
  const redis = useTestRedis();
  const processes = useServiceProcesses({
    packageDir: new URL('..', import.meta.url),
    main: 'test/fixture-dies-after-completion/main.ts',
    name: 'the worker that dies after a completion',
  });
  const opened: { close(): Promise<unknown> }[] = [];
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((each) => each.close()));
  });

  it('leaves the job pending, and reconciliation queues its webhook', async () => {
    const worker = processes.spawn(
      { REDIS_URL: redis.url, JOBFLEET_PREFIX: redis.prefix, HOST: '127.0.0.1', METRICS_PORT: '0' },
      { nodeArgs: ['--import', 'tsx'] },
    );
    await worker.waitForLog((line) => line.msg === 'dies after its next completion', 30_000);
    const queue = new Queue(pings.name, { connection: redis.connection(), prefix: redis.prefix });
    const deliveries = new Queue(webhooks.name, { connection: redis.connection(), prefix: redis.prefix });
    opened.push(queue, deliveries);
    const opts = withOrigin(
      withCallback({ ...pings.defaultJobOptions }, { url: 'https://example.com/hooks' }),
      {
        client: 'signup-service',
      },
    );
    const job = await queue.add('ping', { text: 'last words' }, opts);

    expect(await worker.exited).toEqual({ code: null, signal: 'SIGKILL' });
    expect(await job.getState()).toBe('completed');
    const deliveryId = webhookDeliveryId(pings.name, String(job.id), 'job.completed');
    expect(await deliveries.getJob(deliveryId)).toBeUndefined();
    expect(await redis.connection().zrange(pendingCallbacksKey(redis.prefix, pings.name), 0, -1)).toEqual([
      job.id,
    ]);

    const store = new DeadLetterStore({
      connection: redis.connection(),
      prefix: redis.prefix,
      queues: [pings],
    });
    opened.push(store);
    expect((await store.reconcileCallbacks({ settleMs: 0 })).queued).toEqual({ pings: 1 });
    expect((await deliveries.getJob(deliveryId))?.data).toMatchObject({
      url: 'https://example.com/hooks',
      event: { type: 'job.completed', data: { id: job.id, result: { echoed: 'last words' } } },
    });
  });
});
