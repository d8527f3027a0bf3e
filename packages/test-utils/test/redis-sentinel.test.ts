import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RedisSentinelSetup, startRedisSentinel } from '../src/redis-sentinel.js';

describe('startRedisSentinel', () => {
  let setup: RedisSentinelSetup;
  beforeAll(async () => {
    setup = await startRedisSentinel();
  }, 60_000);
  afterAll(async () => {
    await setup?.stop();
  });

  it('starts a master and a replica that three sentinels monitor', async () => {
    const [master, replica] = setup.servers;
    expect(setup.sentinels).toHaveLength(3);
    expect((await setup.currentMaster()).port).toBe(master?.port);
    const client = new Redis(replica?.url ?? '');
    try {
      const [role, host, port] = (await client.call('ROLE')) as [string, string, number];
      expect([role, host, Number(port)]).toEqual(['slave', '127.0.0.1', master?.port]);
    } finally {
      client.disconnect();
    }
    expect(setup.sentinelsEnv.split(',')).toHaveLength(3);
  });

  it('fails over on SENTINEL FAILOVER, and after a kill -9 of the master', { timeout: 60_000 }, async () => {
    const first = await setup.currentMaster();
    const second = await setup.failover();
    expect(second.port).not.toBe(first.port);
    await setup.waitForReplicas(1);

    const { master, server } = await setup.killMaster();
    expect(master.port).toBe(second.port);
    const third = await setup.waitForNewMaster(master);
    expect(third.port).toBe(first.port);

    // The killed one comes back empty and is turned into a replica of the new master.
    await server.start();
    await setup.waitForReplicas(1);
  });
});
