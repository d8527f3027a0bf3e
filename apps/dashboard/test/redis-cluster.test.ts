import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { emails } from '@jobfleet/queue-contracts';
import { loadConfig } from '@jobfleet/service-kit';
import { type RedisCluster, startRedisCluster } from '@jobfleet/test-utils';
import { Queue } from 'bullmq';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildDashboard } from '../src/app.js';
import { dashboardConfig } from '../src/config.js';

describe('the dashboard on a real Redis Cluster', () => {
  let cluster: RedisCluster;
  let app: FastifyInstance;
  const prefix = `db-${randomUUID().slice(0, 8)}`;

  beforeAll(async () => {
    cluster = await startRedisCluster({ masters: 3 });
    const config = loadConfig(dashboardConfig, {
      REDIS_CLUSTER_NODES: cluster.seeds,
      JOBFLEET_PREFIX: prefix,
      LOG_LEVEL: 'silent',
      DASHBOARD_AUTH: 'disabled',
    });
    app = await buildDashboard({ config });
    if (app.redis.status !== 'ready') await once(app.redis, 'ready');
  }, 60_000);

  afterAll(async () => {
    await app?.close();
    await cluster?.stop();
  });

  it('reads every queue (each in its own slot) for the overview and the board', async () => {
    const queue = new Queue(emails.name, { connection: app.redis, prefix: `{${prefix}:${emails.name}}` });
    await queue.add('welcome', { userId: 1, to: 'ada@example.com' });
    await queue.close();
    const overview = await app.inject({ method: 'GET', url: '/' });
    expect(overview.statusCode, overview.body).toBe(200);
    const board = await app.inject({
      method: 'GET',
      url: '/admin/queues/api/queues?activeQueue=emails&status=waiting&page=1&jobsPerPage=10',
    });
    expect(board.statusCode, board.body).toBe(200);
    const queues = board.json<{ queues: Array<{ name: string; jobs: unknown[] }> }>().queues;
    expect(queues.find((q) => q.name === 'emails')?.jobs).toHaveLength(1);
  });

  it('answers 503, not 500, when a redirection could not be followed', async () => {
    const entry = app.queues.get(emails.name);
    if (!entry) throw new Error('no emails queue');
    const original = entry.queue.getJobCounts.bind(entry.queue);
    // What ioredis rejects with once a slot keeps moving past maxRedirections.
    entry.queue.getJobCounts = () =>
      Promise.reject(
        new Error('Too many Cluster redirections. Last error: ReplyError: TRYAGAIN Multiple keys request'),
      );
    try {
      const board = await app.inject({ method: 'GET', url: '/admin/queues/api/queues?activeQueue=emails' });
      expect(board.statusCode, board.body).toBe(503);
    } finally {
      entry.queue.getJobCounts = original;
    }
  });
});
