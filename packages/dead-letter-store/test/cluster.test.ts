import { randomUUID } from 'node:crypto';
import {
  deadLetters,
  emails,
  pendingCallbacksKey,
  reports,
  webhookDeliveryId,
  webhooks,
  withCallback,
  withOrigin,
} from '@jobfleet/queue-contracts';
import { createRedisConnection, queuePrefix, type RedisClient } from '@jobfleet/service-kit';
import { type RedisCluster, startRedisCluster } from '@jobfleet/test-utils';
import { Queue, Worker } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeadLetterStore } from '../src/index.js';
import { sampleRecord, seed } from './helpers.js';

const T0 = Date.parse('2030-01-01T00:00:00.000Z');

describe('dead-letter store on Redis Cluster', () => {
  let cluster: RedisCluster;
  let connection: RedisClient;
  const prefix = `dls-${randomUUID().slice(0, 8)}`;

  beforeAll(async () => {
    cluster = await startRedisCluster({ masters: 3 });
    connection = createRedisConnection({
      redis: { kind: 'cluster', nodes: cluster.nodes.map(({ host, port }) => ({ host, port })) },
      flavour: 'worker',
    });
  }, 60_000);

  afterAll(async () => {
    connection?.disconnect();
    await cluster?.stop();
  });

  it('keeps every key of its own in the dead-letters slot, apart from the source queues’ slots', async () => {
    const store = new DeadLetterStore({ connection, prefix });
    const own = await cluster.keySlot(`{${prefix}:${deadLetters.name}}`);
    const keys = [
      store.keys.job('emails.1.2'),
      store.keys.all,
      store.keys.byQueue('emails'),
      store.keys.byJob('emails', 'welcome'),
      store.keys.byName('welcome'),
      store.keys.queues,
      store.keys.tombstones('emails'),
      store.keys.reconcileLock('emails'),
      store.keys.retentionLock,
      store.keys.alertWindow('emails'),
    ];
    for (const key of keys) expect(await cluster.keySlot(key), key).toBe(own);
    expect(await cluster.keySlot(store.keys.failed('emails'))).toBe(
      await cluster.keySlot(`{${prefix}:${emails.name}}`),
    );
    expect(await cluster.keySlot(store.keys.failed('emails'))).not.toBe(own);
    await store.close();
  });

  it('captures, lists, counts, redrives (one and many), removes and trims across slots', async () => {
    const store = new DeadLetterStore({ connection, prefix });
    const records = [
      sampleRecord({ queue: 'emails', jobId: '1', jobName: 'welcome', failedAt: T0 }),
      sampleRecord({ queue: 'emails', jobId: '2', jobName: 'welcome', failedAt: T0 + 1 }),
      sampleRecord({ queue: 'emails', jobId: '3', jobName: 'welcome', failedAt: T0 + 2 }),
      sampleRecord({
        queue: 'reports',
        jobId: '4',
        jobName: 'daily-report',
        failedAt: T0 + 3,
        data: { tenantId: 'acme' },
      }),
    ];
    const [first = '', second = '', third = '', fourth = ''] = await seed(store, records);
    expect(await store.count()).toBe(4);
    expect((await store.counts()).emails).toBe(3);
    const page = await store.list({ queue: 'emails', limit: 10 });
    expect(page.items.map((item) => item.id)).toEqual([third, second, first]);
    expect((await store.load([first, fourth])).map((loaded) => loaded?.record.queue)).toEqual([
      'emails',
      'reports',
    ]);

    const sent = await store.redrive(first, { by: 'ops' });
    const emailsQueue = new Queue(emails.name, {
      connection,
      prefix: queuePrefix(connection, prefix, emails.name),
    });
    expect((await emailsQueue.getJob(sent.jobId))?.name).toBe('welcome');
    expect((await store.get(first))?.record.redrive?.jobId).toBe(sent.jobId);

    const many = await store.redriveMany({ limit: 10, by: 'ops' });
    expect(many.redriven).toBe(3);
    expect(many.byQueue).toEqual({ emails: 2, reports: 1 });
    const reportsQueue = new Queue(reports.name, {
      connection,
      prefix: queuePrefix(connection, prefix, reports.name),
    });
    expect(await reportsQueue.count()).toBe(1);

    await store.remove(second);
    expect(await store.get(second)).toBeUndefined();
    expect(await store.count('emails')).toBe(2);
    const trimmed = await store.trim({ maxAgeMs: 1, maxRecords: 1_000, now: T0 + 1_000 });
    expect(trimmed.ran).toBe(true);
    expect(await store.count()).toBe(0);
    await Promise.all([emailsQueue.close(), reportsQueue.close(), store.close()]);
  });

  it('reconciles a source queue’s failed set (its slot) into records (the dead-letters slot)', async () => {
    const store = new DeadLetterStore({ connection, prefix: `${prefix}-r` });
    const tag = queuePrefix(connection, `${prefix}-r`, emails.name);
    const queue = new Queue(emails.name, { connection, prefix: tag });
    const job = await queue.add('welcome', { userId: 1, to: 'ada@example.com' }, { attempts: 1 });
    const worker = new Worker(
      emails.name,
      async () => {
        throw new Error('boom');
      },
      { connection, prefix: tag },
    );
    const failed = new Promise<void>((resolve) => worker.once('failed', () => resolve()));
    await failed;
    await worker.close();
    const result = await store.reconcile({ settleMs: 0, now: Date.now() + 1_000 });
    expect(result.found.emails).toBe(1);
    const [record] = (await store.deadLetterQueue.getWaiting(0, -1)).map((j) => j.data as { jobId: string });
    expect(record?.jobId).toBe(job.id);
    await Promise.all([queue.close(), store.close()]);
  });

  it('queues a pending completion webhook: the entry in the source queue’s slot, the delivery in the webhooks slot', async () => {
    const base = `${prefix}-w`;
    const store = new DeadLetterStore({ connection, prefix: base });
    const tag = queuePrefix(connection, base, emails.name);
    const pending = pendingCallbacksKey(tag, emails.name);
    expect(store.keys.pendingCallbacks(emails.name)).toBe(pending);
    expect(await cluster.keySlot(pending)).toBe(await cluster.keySlot(`{${base}:${emails.name}}`));
    const queue = new Queue(emails.name, { connection, prefix: tag });
    const opts = withOrigin(withCallback({ attempts: 1 }, { url: 'https://example.com/hooks' }), {
      client: 'c',
    });
    const job = await queue.add('welcome', { userId: 1, to: 'ada@example.com' }, opts);
    const worker = new Worker(emails.name, async () => ({ messageId: '<1@example.com>' }), {
      connection,
      prefix: tag,
    });
    await new Promise<void>((resolve) => worker.once('completed', () => resolve()));
    await worker.close();
    await connection.zadd(pending, 1, String(job.id));
    const result = await store.reconcileCallbacks({ settleMs: 0 });
    expect(result.queued.emails).toBe(1);
    const deliveries = new Queue(webhooks.name, {
      connection,
      prefix: queuePrefix(connection, base, webhooks.name),
    });
    const delivery = await deliveries.getJob(webhookDeliveryId(emails.name, String(job.id), 'job.completed'));
    expect(delivery?.data).toMatchObject({ event: { type: 'job.completed', data: { id: job.id } } });
    expect(await connection.zcard(pending)).toBe(0);
    await Promise.all([queue.close(), deliveries.close(), store.close()]);
  });
});
