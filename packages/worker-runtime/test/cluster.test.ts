import { randomUUID } from 'node:crypto';
import { CANCELLED_REASON, cancelChannel, cancelMarkerKey, deadLetters } from '@jobfleet/queue-contracts';
import {
  createLogger,
  createMetricsRegistry,
  createRedisConnection,
  queuePrefix,
  type RedisClient,
} from '@jobfleet/service-kit';
import { type RedisCluster, startRedisCluster } from '@jobfleet/test-utils';
import { Queue, QueueEvents } from 'bullmq';
import { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createWorkerRuntime, readUsage, UsageLedger, usageKey, utcDay } from '../src/index.js';
import { pings } from './fixture-contract.js';

const silent = createLogger({ service: 'test', level: 'silent' });

describe('the runtime on Redis Cluster', () => {
  let cluster: RedisCluster;
  const connections: RedisClient[] = [];
  const prefix = `rt-${randomUUID().slice(0, 8)}`;
  const connect = () => {
    const connection = createRedisConnection({
      redis: { kind: 'cluster', nodes: cluster.nodes.map(({ host, port }) => ({ host, port })) },
      flavour: 'worker',
    });
    connections.push(connection);
    return connection;
  };

  beforeAll(async () => {
    cluster = await startRedisCluster({ masters: 3 });
  }, 60_000);

  afterAll(async () => {
    for (const connection of connections) connection.disconnect();
    await cluster?.stop();
  });

  it('writes the usage of tenants whose keys lie on different slots in one flush', async () => {
    const connection = connect();
    const ledger = new UsageLedger({
      connection,
      prefix,
      logger: silent,
      retentionDays: 40,
      flushMs: 60_000,
    });
    const tenants = ['acme', 'globex', 'initech', 'umbrella'];
    const day = utcDay(Date.now());
    const slots = await Promise.all(tenants.map((tenant) => cluster.keySlot(usageKey(prefix, tenant, day))));
    expect(new Set(slots).size).toBeGreaterThan(1);
    for (const tenant of tenants) ledger.record(tenant, 'pings', 'ping', 'completed', 0.01);
    await ledger.close();
    for (const tenant of tenants) {
      const rows = await readUsage(connection, prefix, tenant, day);
      expect(
        rows.map((row) => row.counts.completed),
        tenant,
      ).toEqual([1]);
    }
  });

  it('processes, dead-letters and cancels on the queue’s own slot, the cancel request over cluster pub/sub', async () => {
    const connection = connect();
    const tag = queuePrefix(connection, prefix, pings.name);
    expect(tag).toBe(`{${prefix}:${pings.name}}`);
    const runtime = createWorkerRuntime({
      contract: pings,
      handlers: {
        ping: async ({ text }) => {
          if (text === 'fail') throw new Error('boom');
          return { echoed: text };
        },
        pause: (_data, { signal }) =>
          new Promise<null>((resolve) =>
            signal.addEventListener('abort', () => resolve(null), { once: true }),
          ),
      },
      connection,
      prefix,
      logger: silent,
      registry: createMetricsRegistry(),
      cancelSweepMs: 60_000,
    });
    const queue = new Queue(pings.name, { connection: connect(), prefix: tag });
    // From the stream's start (the prefix is this test's own): a cluster connection may issue its first
    // XREAD after the first job finished, and a read from `$` would miss that event.
    const events = new QueueEvents(pings.name, { connection: connect(), prefix: tag, lastEventId: '0-0' });
    const dlq = new Queue(deadLetters.name, {
      connection: connect(),
      prefix: queuePrefix(connection, prefix, deadLetters.name),
    });
    try {
      await Promise.all([runtime.worker.waitUntilReady(), events.waitUntilReady()]);
      const done = await queue.add('ping', { text: 'hi' }, pings.defaultJobOptions);
      expect(await done.waitUntilFinished(events, 10_000)).toEqual({ echoed: 'hi' });

      // The source job's slot and the record's slot differ; capture writes only the latter.
      const failing = await queue.add('ping', { text: 'fail' }, { ...pings.defaultJobOptions, attempts: 1 });
      await expect(failing.waitUntilFinished(events, 10_000)).rejects.toThrow('boom');
      await vi.waitFor(async () => expect(await dlq.count()).toBe(1), { timeout: 10_000 });

      const admin = connect();
      const channel = cancelChannel(tag, pings.name);
      // NUMSUB counts one node's subscribers: add up the masters'.
      const subscribers = async () => {
        const masters = admin instanceof Cluster ? admin.nodes('master') : [admin];
        const counts = await Promise.all(masters.map((node) => node.pubsub('NUMSUB', channel)));
        return counts.reduce((sum, reply) => sum + Number((reply as [string, number])[1]), 0);
      };
      await vi.waitFor(async () => expect(await subscribers()).toBe(1), { timeout: 10_000 });
      const pausedId = `pause-${randomUUID()}`;
      const active = new Promise<void>((resolve) =>
        events.on('active', ({ jobId }) => {
          if (jobId === pausedId) resolve();
        }),
      );
      const paused = await queue.add(
        'pause',
        { ms: 10_000 },
        { ...pings.defaultJobOptions, jobId: pausedId },
      );
      await active;
      await admin.set(cancelMarkerKey(tag, pings.name, paused.id ?? ''), '{}', 'EX', 60);
      await admin.publish(channel, paused.id ?? '');
      await expect(paused.waitUntilFinished(events, 10_000)).rejects.toThrow(CANCELLED_REASON);
    } finally {
      await runtime.close();
      await Promise.all([events.close(), queue.close(), dlq.close()]);
    }
  });
});
