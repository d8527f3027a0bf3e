import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeEach, inject } from 'vitest';

export interface TestRedis {
  /** The run's Redis server (started by the global setup). */
  readonly url: string;
  /** A key prefix unique to the current test; its keys are deleted after the test. */
  readonly prefix: string;
  /** A connection closed after the test (`maxRetriesPerRequest: null`, as BullMQ wants). */
  connection(): Redis;
}

/** Deletes every key under `prefix`. */
export async function deleteKeys(client: Redis, prefix: string): Promise<number> {
  let deleted = 0;
  let cursor = '0';
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1_000);
    cursor = next;
    if (keys.length > 0) deleted += await client.unlink(...keys);
  } while (cursor !== '0');
  return deleted;
}

/**
 * Call at the top of a test file. Each test gets a fresh key prefix, so tests
 * never see each other's queues; after each test its keys and connections go.
 */
export function useTestRedis(): TestRedis {
  const url = inject('redisUrl');
  if (!url) throw new Error('no test Redis: add @jobfleet/test-utils/global-setup to vitest globalSetup');
  const admin = new Redis(url, { maxRetriesPerRequest: null });
  const open: Redis[] = [];
  let prefix = '';

  beforeEach(() => {
    prefix = `test-${randomUUID().slice(0, 8)}`;
  });
  afterEach(async () => {
    await Promise.all(open.splice(0).map((c) => c.quit().catch(() => c.disconnect())));
    await deleteKeys(admin, prefix);
  });
  afterAll(async () => {
    await admin.quit();
  });

  return {
    url,
    get prefix() {
      return prefix;
    },
    connection() {
      const client = new Redis(url, { maxRetriesPerRequest: null });
      open.push(client);
      return client;
    },
  };
}
