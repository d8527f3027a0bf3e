import type { RedisClient } from '@jobfleet/service-kit';
import { OutcomeUnknownError, RedisFullError, RedisUnavailableError } from './errors.js';

/** Reply prefixes of a Redis that is up but cannot take writes now (loading, failing over). */
const TRANSIENT_REPLY = /^(LOADING|BUSY|READONLY|MASTERDOWN|TRYAGAIN|CLUSTERDOWN|NOREPLICAS)\b/;
/** Redis at `maxmemory` with `noeviction`: every write is refused until memory is freed. */
const FULL_REPLY = /^OOM\b/;
/** The command never left this process (no connection, or not writable with no offline queue). */
const NOT_SENT = /Stream isn't writeable|ECONNREFUSED|ENOTFOUND|EAI_AGAIN/;
/**
 * The command may have been written to the connection, and no reply came
 * (ioredis also fails the commands awaiting replies with "Connection is
 * closed" when the connection ends under them).
 */
const NO_REPLY = /Command timed out|Connection is closed|ECONNRESET|ETIMEDOUT|EPIPE/;
/**
 * Redis Cluster: a redirection ioredis could not follow to the end (a slot
 * moving, a master failing over), or a cluster client without its slot map.
 * Refused before anything was written.
 */
const CLUSTER_TROUBLE =
  /^(MOVED|ASK)\b|Too many Cluster redirections|Failed to refresh slots cache|None of startup nodes is available|Cluster isn't ready/;

/** Whether `error` means Redis could not be reached or could not serve, rather than a bug. */
export function isRedisUnavailable(error: unknown, client: RedisClient): boolean {
  if (client.status !== 'ready') return true;
  if (!(error instanceof Error)) return false;
  if (error.name === 'MaxRetriesPerRequestError') return true;
  return (
    TRANSIENT_REPLY.test(error.message) ||
    FULL_REPLY.test(error.message) ||
    NOT_SENT.test(error.message) ||
    NO_REPLY.test(error.message) ||
    CLUSTER_TROUBLE.test(error.message)
  );
}

/** Whether `error` is Redis refusing a write because it is at `maxmemory`. */
export const isRedisFull = (error: unknown): boolean =>
  error instanceof Error && FULL_REPLY.test(error.message);

/**
 * Whether a write that failed with `error` may still have been done: it was
 * sent and no reply came (a timeout, a connection lost under it, or retried
 * after a reconnect and given up). A refusal by Redis (`OOM`, `READONLY`, …)
 * and a command that never left the process are certainly not done.
 */
export function isOutcomeUnknown(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  if (error.name === 'MaxRetriesPerRequestError') return true;
  return NO_REPLY.test(error.message);
}

/**
 * The answer to a Redis failure: 503 `JOBFLEET_REDIS_FULL` for a full Redis,
 * 504 `JOBFLEET_OUTCOME_UNKNOWN` for a write (`writes`) that may have been
 * done, else 503 `JOBFLEET_REDIS_UNAVAILABLE`; `undefined` when the failure is
 * not Redis being away (a bug, or an error of the work itself).
 */
export function redisFailure(error: unknown, client: RedisClient, writes: boolean): Error | undefined {
  if (isRedisFull(error)) return new RedisFullError({ cause: error });
  if (writes && isOutcomeUnknown(error)) return new OutcomeUnknownError({ cause: error });
  if (isRedisUnavailable(error, client)) return new RedisUnavailableError({ cause: error });
  return undefined;
}

/**
 * Runs Redis work for a request. While the connection is down it fails at once
 * (a producer connection has no offline queue, and this does not even wait for
 * one), and any failure caused by Redis being away becomes a 503 — which means
 * nothing was written. Work that writes (`writes: true`) and may have been done
 * becomes a 504 `JOBFLEET_OUTCOME_UNKNOWN` instead.
 */
export async function usingRedis<T>(
  client: RedisClient,
  work: () => Promise<T>,
  { writes = false }: { writes?: boolean } = {},
): Promise<T> {
  if (client.status !== 'ready') throw new RedisUnavailableError();
  try {
    return await work();
  } catch (error) {
    throw redisFailure(error, client, writes) ?? error;
  }
}
