import { randomUUID } from 'node:crypto';
import type { RedisClient } from '@jobfleet/service-kit';
import { releaseLockScript } from './lua.js';

/**
 * Runs `work` while holding a Redis lock (SET NX PX), so that of several
 * processes one does it at a time; resolves `undefined` without running it when
 * another holds the lock. The TTL frees the lock of a process that died.
 */
export async function withLock<T>(
  client: RedisClient,
  key: string,
  ttlMs: number,
  work: () => Promise<T>,
): Promise<T | undefined> {
  const token = randomUUID();
  const acquired = await client.set(key, token, 'PX', ttlMs, 'NX');
  if (acquired !== 'OK') return undefined;
  try {
    return await work();
  } finally {
    await releaseLockScript.run(client, [key], [token]);
  }
}

/**
 * Runs `work` for each of `queues` in turn, each under its own lock
 * (`lockKey(queue)`, see {@link withLock}): the results by queue, and the
 * queues another process held at the time (skipped).
 */
export async function perQueueLocked<T>(
  client: RedisClient,
  queues: Iterable<string>,
  lockKey: (queue: string) => string,
  ttlMs: number,
  work: (queue: string) => Promise<T>,
): Promise<{ done: Map<string, T>; busy: string[] }> {
  const done = new Map<string, T>();
  const busy: string[] = [];
  for (const queue of queues) {
    const result = await withLock(client, lockKey(queue), ttlMs, () => work(queue));
    if (result === undefined) busy.push(queue);
    else done.set(queue, result);
  }
  return { done, busy };
}
