import type { RedisClient } from '@jobfleet/service-kit';

/** The share of a key's budget one gateway takes from Redis at a time. */
export const LEASE_SHARE = 0.01;

/**
 * KEYS[1]: the key's counter for the current window; ARGV[1]: the window (ms);
 * ARGV[2]: tokens asked for. Counts them and starts the window on first use.
 * Returns `{ counter after, ms left in the window }`.
 */
const LEASE_SCRIPT = `
local counter = redis.call('INCRBY', KEYS[1], ARGV[2])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {counter, ttl}`;

/** This process's share of one key's window. */
interface Lease {
  /** Local time the window ends. */
  endsAt: number;
  /** The counter before this lease: what other requests (here and elsewhere) had used. */
  before: number;
  /** Tokens of this lease used so far, and granted in all. */
  used: number;
  granted: number;
  /** The window's budget was spent when the lease was taken: refuse until it ends. */
  spent: boolean;
}

/** A request counted: the key's count in its window so far, this one included, and the ms left of the window. */
export interface Count {
  current: number;
  ttl: number;
}

/**
 * A rate-limit store that counts in Redis, so every gateway
 * replica draws on one budget per key — but takes the budget in leases of
 * {@link LEASE_SHARE} of it (at least 1) and spends each lease locally. A key
 * with a budget of 100 requests per second still costs one Redis call per
 * request; one of 100,000 costs one per thousand requests, instead of a Redis
 * round trip in front of every enqueue (which also had to wait behind
 * whatever Redis was running, a large `addBulk` say). Leases never exceed the
 * budget in sum; a replica's unspent tokens lapse with the window. Once a
 * window is spent, its refusals cost no Redis call either.
 */
/** How long a count waits for a lease refresh by default. */
export const DEFAULT_COUNT_WAIT_MS = 100;

/** A count whose lease did not come back from Redis within the store's wait. */
export class LateCountError extends Error {
  override readonly name = 'LateCountError';
}

/**
 * `maxWaitMs`: how long a count waits for a lease refresh (well under a
 * millisecond when Redis is healthy) before it fails with {@link LateCountError}:
 * a slow or frozen Redis must not hold requests back here. Only refreshes wait;
 * a count served from the lease costs no timer.
 */
export function leasingStore(redis: RedisClient, prefix: string, maxWaitMs = DEFAULT_COUNT_WAIT_MS) {
  const leases = new Map<string, Lease>();
  const refreshing = new Map<string, Promise<void>>();

  const waitFor = (pending: Promise<void>) => {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new LateCountError(`no lease within ${maxWaitMs} ms`)), maxWaitMs);
    });
    return Promise.race([pending, late]).finally(() => clearTimeout(timer));
  };

  const refresh = async (key: string, timeWindow: number, max: number) => {
    const size = Math.max(1, Math.min(max, Math.floor(max * LEASE_SHARE)));
    const [counter, ttl] = (await redis.eval(LEASE_SCRIPT, 1, `${prefix}${key}`, timeWindow, size)) as [
      number,
      number,
    ];
    const before = counter - size;
    const granted = Math.max(0, Math.min(size, max - before));
    leases.set(key, { endsAt: Date.now() + ttl, before, used: 0, granted, spent: granted === 0 });
  };

  /** A count the current lease answers without Redis; `undefined` when a refresh is needed. */
  const fromLease = (key: string, max: number): Count | undefined => {
    const lease = leases.get(key);
    if (lease === undefined) return undefined;
    const now = Date.now();
    if (now >= lease.endsAt) return undefined;
    const ttl = lease.endsAt - now;
    if (lease.used < lease.granted) {
      lease.used += 1;
      return { current: lease.before + lease.used, ttl };
    }
    return lease.spent ? { current: max + 1, ttl } : undefined;
  };

  const take = async (key: string, timeWindow: number, max: number): Promise<Count> => {
    for (;;) {
      const counted = fromLease(key, max);
      if (counted) return counted;
      let pending = refreshing.get(key);
      if (!pending) {
        pending = refresh(key, timeWindow, max).finally(() => refreshing.delete(key));
        // A refresh that outlives its waiters still fills the lease for the next requests.
        pending.catch(() => undefined);
        refreshing.set(key, pending);
      }
      await waitFor(pending);
    }
  };

  return {
    /**
     * Counts one request of `key`: at once (no promise) when this process's
     * lease covers it, which is nearly always, else once a lease refresh
     * from Redis comes back (rejecting with {@link LateCountError} after the
     * store's wait).
     */
    count(key: string, timeWindow: number, max: number): Count | Promise<Count> {
      return fromLease(key, max) ?? take(key, timeWindow, max);
    },
  };
}

export type LeasingStore = ReturnType<typeof leasingStore>;
