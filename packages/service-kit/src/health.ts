import { hostname } from 'node:os';
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

export interface RedisReadinessOptions {
  /** `JOBFLEET_PREFIX`: the write probe's key lives under it. */
  prefix: string;
  /** Tells this process's probe key apart from other processes'; defaults to `<host>-<pid>`. */
  processId?: string;
  /** How often `maxmemory-policy` is re-read, at most (ms). */
  policyTtlMs?: number;
  /** How long one probe may take (ms). */
  timeoutMs?: number;
}

/** How long a probe key lives: it only has to outlast the probe. */
const PROBE_TTL_MS = 60_000;

/**
 * Redis takes writes, and evicts nothing (`maxmemory-policy noeviction`).
 * Writes are probed with a `SET <prefix>:jobfleet:ready-probe:<process> PX`, so
 * every way Redis refuses the service's writes while answering reads or PING
 * shows: a full Redis (`OOM`), a replica (`READONLY`), missing credentials
 * (`NOAUTH`), a cluster node that does not hold the slot (`MOVED`,
 * `CLUSTERDOWN`). Each call probes again, so readiness comes back by itself.
 * A wrong policy is logged as a warning once; it is re-read at most every
 * `policyTtlMs`, so probes stay cheap.
 */
export function redisReadinessCheck(
  client: RedisClient,
  logger: Logger,
  options: RedisReadinessOptions,
): ReadinessCheck {
  const { policyTtlMs = 30_000, timeoutMs = 1_000 } = options;
  const probeKey = `${options.prefix}:jobfleet:ready-probe:${options.processId ?? `${hostname()}-${process.pid}`}`;
  let policy: { ok: boolean; policy: string | undefined; at: number } | undefined;
  let warned = false;
  return {
    name: 'redis',
    async check() {
      if (client.status !== 'ready') return { ok: false, reason: `redis is ${client.status}` };
      try {
        if (!policy || Date.now() - policy.at > policyTtlMs) {
          const result = await withTimeout(checkEvictionPolicy(client), timeoutMs, 'redis INFO');
          policy = { ...result, at: Date.now() };
          if (!result.ok && !warned) {
            warned = true;
            logger.warn(
              { maxmemoryPolicy: result.policy },
              'redis maxmemory-policy is not noeviction: Redis may evict job keys and lose jobs; set maxmemory-policy noeviction',
            );
          }
        }
      } catch (error) {
        return { ok: false, reason: `redis unreachable: ${(error as Error).message}` };
      }
      try {
        await withTimeout(
          client.set(probeKey, String(Date.now()), 'PX', PROBE_TTL_MS),
          timeoutMs,
          'redis SET',
        );
      } catch (error) {
        return { ok: false, reason: `redis refuses writes: ${(error as Error).message}` };
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
