import { useTestRedis } from '@jobfleet/test-utils';
import { describe, expect, it, vi } from 'vitest';
import { LEASE_SHARE, type LeasingStore, leasingStore } from '../src/rate-limit-store.js';

const redis = useTestRedis();

const incr = async (store: LeasingStore, key: string, timeWindow: number, max: number) =>
  store.count(key, timeWindow, max);

describe('leasingStore', () => {
  it('takes a large budget in leases: one Redis call per lease, not per request', async () => {
    const connection = redis.connection();
    const calls = vi.spyOn(connection, 'eval');
    const store = leasingStore(connection, `${redis.prefix}:rl:`);
    const max = 10_000;
    const results = [];
    for (let i = 0; i < 250; i++) results.push(await incr(store, 'k', 60_000, max));
    // A count the lease covers is answered at once, without a promise.
    expect(store.count('k', 60_000, max)).not.toBeInstanceOf(Promise);
    // 1% leases: 100 tokens each, so 250 requests cost 3 calls.
    expect(calls).toHaveBeenCalledTimes(Math.ceil(250 / (max * LEASE_SHARE)));
    expect(results.map((r) => r.current)).toEqual(Array.from({ length: 250 }, (_, i) => i + 1));
    expect(results.every((r) => r.ttl > 0 && r.ttl <= 60_000)).toBe(true);
  });

  it('never grants more than the budget across replicas; refusals of a spent window cost no call', async () => {
    // Two replicas, each with its own connection and leases; a generous wait, since this is about the budget.
    const [a, b] = [redis.connection(), redis.connection()].map((connection) =>
      leasingStore(connection, `${redis.prefix}:rl:`, 10_000),
    ) as [LeasingStore, LeasingStore];
    const max = 300;
    const granted = { a: 0, b: 0 };
    const all = await Promise.all(
      Array.from({ length: 400 }, (_, i) =>
        incr(i % 2 ? a : b, 'shared', 60_000, max).then((r) => {
          if (r.current <= max) granted[i % 2 ? 'a' : 'b'] += 1;
          return r;
        }),
      ),
    );
    expect(granted.a + granted.b).toBeLessThanOrEqual(max);
    expect(granted.a + granted.b).toBeGreaterThanOrEqual(max - 2 * Math.floor(max * LEASE_SHARE));
    expect(all.filter((r) => r.current > max).length).toBe(400 - granted.a - granted.b);

    const connection = redis.connection();
    const late = leasingStore(connection, `${redis.prefix}:rl:`);
    const calls = vi.spyOn(connection, 'eval');
    for (let i = 0; i < 5; i++)
      expect((await incr(late, 'shared', 60_000, max)).current).toBeGreaterThan(max);
    expect(calls).toHaveBeenCalledTimes(1);
  });

  it('starts a new window when the old one ends', async () => {
    const store = leasingStore(redis.connection(), `${redis.prefix}:rl:`);
    expect((await incr(store, 'w', 50, 1)).current).toBe(1);
    const refused = await incr(store, 'w', 50, 1);
    expect(refused.current).toBe(2);
    await new Promise((resolve) => setTimeout(resolve, refused.ttl + 5));
    expect((await incr(store, 'w', 50, 1)).current).toBe(1);
  });
});
