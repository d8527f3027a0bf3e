import { createHash } from 'node:crypto';
import type { RedisClient } from '@jobfleet/service-kit';

/**
 * A Lua script run by its SHA (EVALSHA), loaded on first use or after a Redis
 * restart (NOSCRIPT). Not `defineCommand`: the store runs on connections it
 * does not own, and must not add commands to them.
 */
export class LuaScript {
  readonly sha: string;

  constructor(
    readonly name: string,
    readonly source: string,
  ) {
    this.sha = createHash('sha1').update(source).digest('hex');
  }

  async run(
    client: RedisClient,
    keys: readonly string[],
    args: readonly (string | number)[],
  ): Promise<unknown> {
    try {
      return await client.evalsha(this.sha, keys.length, ...keys, ...args);
    } catch (error) {
      if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
      return client.eval(this.source, keys.length, ...keys, ...args);
    }
  }
}

/**
 * Adds a record to its indexes unless it was removed (tombstoned).
 *
 * KEYS: 1 all, 2 by queue, 3 by queue+name, 4 by name, 5 queues set, 6 names set, 7 tombstones
 * ARGV: 1 id, 2 failure time (ms), 3 queue, 4 job name
 * Returns 1 newly indexed, 0 already indexed, -1 tombstoned (not indexed).
 */
export const indexScript = new LuaScript(
  'index',
  `
if redis.call('ZSCORE', KEYS[7], ARGV[1]) then return -1 end
local added = redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
redis.call('ZADD', KEYS[3], ARGV[2], ARGV[1])
redis.call('ZADD', KEYS[4], ARGV[2], ARGV[1])
redis.call('SADD', KEYS[5], ARGV[3])
redis.call('SADD', KEYS[6], ARGV[4])
return added
`,
);

/**
 * Claims a record for one redrive. The claim lives in the record's job hash
 * (so removing the record removes it): JSON `{ state, token, claimedAt, by, at, jobId }`.
 * A pending claim older than the stale limit (its redriver died between claim
 * and finish) may be taken over.
 *
 * KEYS: 1 the record's job hash, 2 the tombstones of its queue
 * ARGV: 1 id, 2 claim JSON, 3 now (ms), 4 stale after (ms), 5 claim field
 * Returns {'missing'} | {'taken', claim JSON} | {'claimed'}.
 */
export const claimScript = new LuaScript(
  'claim',
  `
if redis.call('EXISTS', KEYS[1]) == 0 or redis.call('ZSCORE', KEYS[2], ARGV[1]) then return {'missing'} end
local current = redis.call('HGET', KEYS[1], ARGV[5])
if current then
  local claim = cjson.decode(current)
  if claim.state ~= 'pending' or tonumber(ARGV[3]) - tonumber(claim.claimedAt) < tonumber(ARGV[4]) then
    return {'taken', current}
  end
end
redis.call('HSET', KEYS[1], ARGV[5], ARGV[2])
return {'claimed'}
`,
);

/**
 * Finishes a claimed redrive: appends the audit entry to the record (its JSON
 * text, so the rest of the payload is kept byte for byte) and marks the claim done.
 *
 * KEYS: 1 the record's job hash
 * ARGV: 1 claim token, 2 audit JSON, 3 done-claim JSON, 4 claim field
 * Returns 'ok', or 'lost' when the claim is no longer ours (the record was removed).
 */
export const finishRedriveScript = new LuaScript(
  'finish-redrive',
  `
local current = redis.call('HGET', KEYS[1], ARGV[4])
if not current or cjson.decode(current).token ~= ARGV[1] then return 'lost' end
local data = redis.call('HGET', KEYS[1], 'data')
if not data or string.sub(data, -1) ~= '}' then return 'lost' end
if data == '{}' then
  data = '{"redrive":' .. ARGV[2] .. '}'
else
  data = string.sub(data, 1, -2) .. ',"redrive":' .. ARGV[2] .. '}'
end
redis.call('HSET', KEYS[1], 'data', data, ARGV[4], ARGV[3])
return 'ok'
`,
);

/**
 * Gives a pending claim up (the enqueue failed), if it is still ours.
 *
 * KEYS: 1 the record's job hash
 * ARGV: 1 claim token, 2 claim field
 */
export const releaseClaimScript = new LuaScript(
  'release-claim',
  `
local current = redis.call('HGET', KEYS[1], ARGV[2])
if current then
  local claim = cjson.decode(current)
  if claim.token == ARGV[1] and claim.state == 'pending' then redis.call('HDEL', KEYS[1], ARGV[2]) end
end
return 0
`,
);

/** Deletes a lock if its value is still our token. KEYS: 1 lock; ARGV: 1 token. */
export const releaseLockScript = new LuaScript(
  'release-lock',
  `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`,
);
