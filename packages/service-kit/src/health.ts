import type { Logger } from 'pino';
import type { RedisClient } from './redis.js';
import { checkEvictionPolicy } from './redis.js';

export interface ReadinessResult {
  ok: boolean;
  reason?: string;
}

/** One condition the service needs to do its work; `/health/ready` fails when any is not ok. */
export interface ReadinessCheck {
  name: string;
  check(): Promise<ReadinessResult>;
}

/** `promise`, or a rejection `<what> timed out after <ms> ms` if it has not settled by then. */
export const withTimeout = <T>(promise: Promise<T>, ms: number, what: string): Promise<T> =>
  new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });

/**
 * Redis answers, and evicts nothing (`maxmemory-policy noeviction`). A wrong
 * policy is logged as a warning once; the policy is re-read at most every
 * `policyTtlMs`, so probes stay cheap.
 */
export function redisReadinessCheck(
  client: RedisClient,
  logger: Logger,
  policyTtlMs = 30_000,
): ReadinessCheck {
  let policy: { ok: boolean; policy: string | undefined; at: number } | undefined;
  let warned = false;
  return {
    name: 'redis',
    async check() {
      if (client.status !== 'ready') return { ok: false, reason: `redis is ${client.status}` };
      try {
        if (!policy || Date.now() - policy.at > policyTtlMs) {
          const result = await withTimeout(checkEvictionPolicy(client), 1_000, 'redis INFO');
          policy = { ...result, at: Date.now() };
          if (!result.ok && !warned) {
            warned = true;
            logger.warn(
              { maxmemoryPolicy: result.policy },
              'redis maxmemory-policy is not noeviction: RedisClient may evict job keys and lose jobs; set maxmemory-policy noeviction',
            );
          }
        } else {
          await withTimeout(client.ping(), 1_000, 'redis PING');
        }
      } catch (error) {
        return { ok: false, reason: `redis unreachable: ${(error as Error).message}` };
      }
      return policy.ok
        ? { ok: true }
        : { ok: false, reason: `redis maxmemory-policy is ${policy.policy ?? 'unknown'}, not noeviction` };
    },
  };
}

/**
 * Runs `check` once `client` is ready (at once if it is), so a Redis that may
 * evict job keys is warned about at start; readiness keeps reporting it.
 */
export function checkWhenReady(client: RedisClient, check: ReadinessCheck): void {
  if (client.status === 'ready') void check.check();
  else client.once('ready', () => void check.check());
}

/** Runs every check; the report names each one. */
export async function runReadinessChecks(checks: readonly ReadinessCheck[]) {
  const results = await Promise.all(
    checks.map(async (c) => {
      try {
        return { name: c.name, ...(await c.check()) };
      } catch (error) {
        return { name: c.name, ok: false, reason: (error as Error).message };
      }
    }),
  );
  return { ok: results.every((r) => r.ok), checks: results };
}
