import type { Socket } from 'node:net';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { useTestRedis } from '@jobfleet/test-utils';
import { describe, expect, it } from 'vitest';
import { coalesceWrites, createRedisConnection, type RedisClient, waitUntilConnected } from '../src/index.js';

const socketOf = (client: RedisClient) => (client as unknown as { stream: Socket }).stream;

/** Sends `count` commands in one turn; returns whether the socket was held (corked) after the first. */
async function burst(client: RedisClient, count: number) {
  const replies = Array.from({ length: count }, (_, i) => client.echo(`m${i}`));
  const corkedInTurn = socketOf(client).writableCorked;
  const answers = await Promise.all(replies);
  await nextTurn();
  return { corkedInTurn, corkedAfterTurn: socketOf(client).writableCorked, answers };
}

describe('coalesceWrites', () => {
  const { url } = useTestRedis();

  it('holds the commands after the first of a turn and sends them when the turn ends, in order', async () => {
    const client = createRedisConnection({ url, flavour: 'worker' });
    try {
      await waitUntilConnected(client);
      // Not applied yet: nothing is held.
      expect((await burst(client, 3)).corkedInTurn).toBe(0);
      // Applied to a connection already open, and twice: held once, released at the end of the turn.
      coalesceWrites(client);
      coalesceWrites(client);
      const { corkedInTurn, corkedAfterTurn, answers } = await burst(client, 50);
      expect(corkedInTurn).toBe(1);
      expect(corkedAfterTurn).toBe(0);
      expect(answers).toEqual(Array.from({ length: 50 }, (_, i) => `m${i}`));
      // A lone command goes out at once.
      const lone = client.echo('alone');
      expect(socketOf(client).writableCorked).toBe(0);
      expect(await lone).toBe('alone');
    } finally {
      client.disconnect();
    }
  });

  it('applies to the socket of every reconnect', async () => {
    const client = createRedisConnection({ url, flavour: 'worker', coalesceWrites: true });
    try {
      await waitUntilConnected(client);
      const first = socketOf(client);
      client.disconnect(true);
      await new Promise((resolve) => client.once('ready', resolve));
      expect(socketOf(client)).not.toBe(first);
      const { corkedInTurn, answers } = await burst(client, 10);
      expect(corkedInTurn).toBe(1);
      expect(answers).toHaveLength(10);
    } finally {
      client.disconnect();
    }
  });
});
