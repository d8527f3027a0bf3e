import type { RedisClient } from '@jobfleet/service-kit';
import { RedisUnavailableError } from './errors.js';

/** Reply prefixes of a Redis that is up but cannot take writes now (loading, failing over, full). */
const TRANSIENT_REPLY = /^(LOADING|BUSY|OOM|READONLY|MASTERDOWN|TRYAGAIN|CLUSTERDOWN|NOREPLICAS)\b/;
/**
 * Redis Cluster: a redirection ioredis could not follow to the end (a slot
 * moving, a master failing over), or a cluster client without its slot map.
 */
const CLUSTER_TROUBLE =
  /^(MOVED|ASK)\b|Too many Cluster redirections|Failed to refresh slots cache|None of startup nodes is available|Cluster isn't ready/;
const CONNECTION_TROUBLE =
  /Connection is closed|Stream isn't writeable|Command timed out|ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|ENOTFOUND|EAI_AGAIN/;

/** Whether `error` means Redis could not be reached or could not serve, rather than a bug. */
export function isRedisUnavailable(error: unknown, client: RedisClient): boolean {
  if (client.status !== 'ready') return true;
  if (!(error instanceof Error)) return false;
  if (error.name === 'MaxRetriesPerRequestError') return true;
  return (
    TRANSIENT_REPLY.test(error.message) ||
    CONNECTION_TROUBLE.test(error.message) ||
    CLUSTER_TROUBLE.test(error.message)
  );
}

/**
 * Runs Redis work for a request. While the connection is down it fails at once
 * (a producer connection has no offline queue, and this does not even wait for
 * one), and any failure caused by Redis being away becomes a 503.
 */
export async function usingRedis<T>(client: RedisClient, work: () => Promise<T>): Promise<T> {
  if (client.status !== 'ready') throw new RedisUnavailableError();
  try {
    return await work();
  } catch (error) {
    if (isRedisUnavailable(error, client)) throw new RedisUnavailableError({ cause: error });
    throw error;
  }
}
