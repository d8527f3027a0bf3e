import type { RedisClient } from '@jobfleet/service-kit';
import type { PagePosition } from './cursor.js';

/** One index entry: a record id and its failure time. */
export interface IndexEntry {
  id: string;
  score: number;
}

const byteOrder = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));

/** `[id, score, id, score, …]` (a WITHSCORES reply) as entries. */
export function entriesFromFlat(flat: string[]): IndexEntry[] {
  const entries: IndexEntry[] = [];
  for (let i = 0; i + 1 < flat.length; i += 2) {
    entries.push({ id: flat[i] ?? '', score: Number(flat[i + 1]) });
  }
  return entries;
}

/**
 * Up to `count` entries of a sorted-set index after `after`, newest first
 * (score descending, then id descending, as ZRANGE … REV orders them), with
 * score ≥ `min`. Positions are exact: entries sharing the last score are
 * neither skipped nor repeated, and concurrent inserts elsewhere shift nothing.
 */
export async function entriesAfter(
  client: RedisClient,
  key: string,
  min: number,
  after: PagePosition | undefined,
  count: number,
): Promise<IndexEntry[]> {
  const entries: IndexEntry[] = [];
  let max = '+inf';
  if (after) {
    if (after.score < min) return [];
    // Those sharing the cursor's score come first: the ones ordered after it, i.e. with a smaller id.
    const same = await client.zrange(key, after.score, after.score, 'BYSCORE');
    const rest = same
      .filter((id) => byteOrder(id, after.id) < 0)
      .sort(byteOrder)
      .reverse();
    for (const id of rest.slice(0, count)) entries.push({ id, score: after.score });
    max = `(${after.score}`;
  }
  const need = count - entries.length;
  if (need > 0) {
    const minArg = Number.isFinite(min) ? String(min) : '-inf';
    const flat = await client.zrange(key, max, minArg, 'BYSCORE', 'REV', 'LIMIT', 0, need, 'WITHSCORES');
    entries.push(...entriesFromFlat(flat));
  }
  return entries;
}
