import type { RedisClient } from '@jobfleet/service-kit';
import { waitUntilConnected } from '@jobfleet/service-kit';

/** How long a request may wait for the very first connection, right after start. */
export const STARTUP_GRACE_MS = 1_000;

/**
 * Whether Redis can be used for a request now. Once the connection has been
 * ready, it answers at once (a request during an outage fails fast); before
 * that, right after start, it waits up to {@link STARTUP_GRACE_MS} for the
 * first connection, so the first visitors do not see an outage that is not one.
 */
export function redisGate(redis: RedisClient): () => Promise<boolean> {
  const isReady = () => redis.status === 'ready';
  let everReady = isReady();
  if (!everReady) {
    redis.once('ready', () => {
      everReady = true;
    });
  }
  return async () => {
    if (isReady()) return true;
    if (everReady) return false;
    await waitUntilConnected(redis, STARTUP_GRACE_MS).catch(() => {});
    return isReady();
  };
}
