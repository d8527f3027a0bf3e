import { type RedisCluster, startRedisCluster } from '@jobfleet/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  checkEvictionPolicy,
  createRedisConnection,
  type RedisClient,
  waitUntilConnected,
} from '../src/index.js';

describe('a cluster connection', () => {
  let cluster: RedisCluster;
  let client: RedisClient;

  beforeAll(async () => {
    cluster = await startRedisCluster({ masters: 3 });
    client = createRedisConnection({
      redis: { kind: 'cluster', nodes: cluster.nodes.slice(0, 1).map(({ host, port }) => ({ host, port })) },
      flavour: 'producer',
    });
    await waitUntilConnected(client);
  }, 60_000);

  afterAll(async () => {
    client?.disconnect();
    await cluster?.stop();
  });

  it('discovers every master from one seed and checks the eviction policy of each', async () => {
    expect(client.isCluster).toBe(true);
    expect(await checkEvictionPolicy(client)).toEqual({ ok: true, policy: 'noeviction' });
    // Not the seed: a check of one node alone would miss it.
    const last = cluster.nodes[cluster.nodes.length - 1];
    await cluster.cli(['config', 'set', 'maxmemory-policy', 'allkeys-lru'], last);
    expect(await checkEvictionPolicy(client)).toEqual({ ok: false, policy: 'allkeys-lru' });
  });
});
