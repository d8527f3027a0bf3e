import {
  catalog,
  DEAD_LETTER_JOB,
  deadLetterId,
  deadLetters,
  type QueueContract,
} from '@jobfleet/queue-contracts';
import { queuePrefix, type RedisClient } from '@jobfleet/service-kit';
import { Queue, type Telemetry } from 'bullmq';
import { decodeCursor, encodeCursor } from './cursor.js';
import { DeadLetterNotFoundError, DeadLetterQueryError } from './errors.js';
import { entriesAfter, type IndexEntry } from './index-scan.js';
import { type DeadLetterKeys, deadLetterKeys, REDRIVE_CLAIM_FIELD } from './keys.js';
import { indexScript } from './lua.js';
import {
  type DeadLetter,
  failureTime,
  parseDeadLetterId,
  type StoredDeadLetter,
  withEffectiveAttempts,
} from './record.js';

/** The largest page `list` returns, and the largest `redriveMany` batch. */
export const MAX_PAGE_SIZE = 1_000;

export interface DeadLetterStoreOptions {
  /** Any ioredis connection (producer or worker flavour); the caller owns and closes it. */
  connection: RedisClient;
  /** `JOBFLEET_PREFIX`. */
  prefix: string;
  /**
   * The source queues: redrive validates against and sends to them, and
   * reconciliation reads their `failed` sets. Defaults to the catalog.
   */
  queues?: readonly QueueContract[];
  /**
   * After how long a redrive that claimed a record but never finished (its
   * process died in between) may be taken over by another; default 30 s.
   */
  redriveStaleAfterMs?: number;
  /**
   * BullMQ's telemetry for the store's queues: a record captured while a job's
   * processing span is active, or a redrive made inside a request, then joins
   * that trace instead of starting its own.
   */
  telemetry?: Telemetry | undefined;
}

/** `list`'s filters. Newest first; `since` keeps records that failed at or after it. */
export interface DeadLetterQuery {
  queue?: string | undefined;
  name?: string | undefined;
  since?: Date | number | undefined;
  /** 1 to {@link MAX_PAGE_SIZE}. */
  limit: number;
  /** `nextCursor` of the previous page. */
  cursor?: string | undefined;
}

export interface DeadLetterPage {
  items: StoredDeadLetter[];
  /** Present when more records may follow; pass it back as `cursor`. */
  nextCursor: string | undefined;
}

/** `index`: newly indexed, indexed before, or removed (a tombstone: not indexed again). */
export type IndexOutcome = 'indexed' | 'exists' | 'tombstoned';

/** The state of a redrive claim kept in the record's job hash. */
export interface RedriveClaim {
  state: 'pending' | 'done';
  token?: string;
  claimedAt?: number;
  by: string;
  at: string;
  jobId: string;
}

/** A loaded record, with its redrive claim if any. */
export interface LoadedDeadLetter extends StoredDeadLetter {
  claim: RedriveClaim | undefined;
}

function isRecord(value: unknown): value is DeadLetter {
  if (!value || typeof value !== 'object') return false;
  const r = value as Record<string, unknown>;
  return (
    typeof r.queue === 'string' &&
    typeof r.jobId === 'string' &&
    typeof r.jobName === 'string' &&
    typeof r.failedAt === 'string' &&
    typeof r.failedReason === 'string'
  );
}

function parseJson(text: string | null | undefined): unknown {
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function checkLimit(field: string, limit: number): void {
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE_SIZE) {
    throw new DeadLetterQueryError(field, `must be an integer from 1 to ${MAX_PAGE_SIZE}`);
  }
}

function sinceMs(since: Date | number | undefined): number {
  if (since === undefined) return Number.NEGATIVE_INFINITY;
  const ms = since instanceof Date ? since.getTime() : since;
  if (!Number.isFinite(ms)) throw new DeadLetterQueryError('since', 'must be a valid time');
  return ms;
}

/**
 * The records themselves: the `dead-letters` queue's jobs plus the store's
 * indexes and tombstones (see `keys.ts` and the README) — write, index, read,
 * list, count and remove. Redrive, retention and reconciliation are built on
 * this (they take a `DeadLetterRecords`), and `DeadLetterStore` puts
 * them together. Every operation is safe to run from several processes at once.
 */
export class DeadLetterRecords {
  readonly client: RedisClient;
  readonly prefix: string;
  readonly keys: DeadLetterKeys;
  readonly contracts: ReadonlyMap<string, QueueContract>;
  /** The `dead-letters` queue (records are its jobs). */
  readonly deadLetterQueue: Queue;
  readonly redriveStaleAfterMs: number;
  readonly #sources = new Map<string, Queue>();
  readonly #telemetry: Telemetry | undefined;

  constructor(options: DeadLetterStoreOptions) {
    this.client = options.connection;
    this.prefix = options.prefix;
    this.keys = deadLetterKeys(options.prefix, options.connection);
    const contracts = options.queues ?? (Object.values(catalog) as QueueContract[]);
    this.contracts = new Map(contracts.map((contract) => [contract.name, contract]));
    this.#telemetry = options.telemetry;
    this.deadLetterQueue = new Queue(deadLetters.name, this.#queueOptions(deadLetters.name));
    this.redriveStaleAfterMs = options.redriveStaleAfterMs ?? 30_000;
  }

  #queueOptions(queue: string) {
    return {
      connection: this.client,
      prefix: queuePrefix(this.client, this.prefix, queue),
      ...(this.#telemetry ? { telemetry: this.#telemetry } : {}),
    };
  }

  /** The BullMQ queue of a source queue (made once, on this store's connection). */
  sourceQueue(name: string): Queue {
    let queue = this.#sources.get(name);
    if (!queue) {
      queue = new Queue(name, this.#queueOptions(name));
      this.#sources.set(name, queue);
    }
    return queue;
  }

  /**
   * Writes a record as a job of the `dead-letters` queue under its
   * deterministic id, unless one exists (then nothing changes). Unlike the
   * contract's defaults, the job is never removed by BullMQ's
   * removeOnComplete/removeOnFail: only retention and `remove` delete records.
   * The record's `options.attempts` is written as the attempts the job really
   * had (see {@link withEffectiveAttempts}), whoever built the record.
   */
  async capture(record: DeadLetter): Promise<string> {
    const id = deadLetterId(record.queue, record.jobId, Date.parse(record.failedAt));
    const { attempts, backoff } = deadLetters.defaultJobOptions;
    await this.deadLetterQueue.add(DEAD_LETTER_JOB, withEffectiveAttempts(record), {
      jobId: id,
      attempts,
      backoff,
      removeOnComplete: false,
      removeOnFail: false,
    });
    return id;
  }

  /** Adds a record to the indexes (by queue, queue + job name, job name, all), scored by failure time. */
  async index(id: string, record: Pick<DeadLetter, 'queue' | 'jobName' | 'failedAt'>): Promise<IndexOutcome> {
    const score = failureTime(id, record);
    if (score === undefined) throw new Error(`dead-letter record "${id}" has no failure time`);
    const k = this.keys;
    const result = await indexScript.run(
      this.client,
      [
        k.all,
        k.byQueue(record.queue),
        k.byJob(record.queue, record.jobName),
        k.byName(record.jobName),
        k.queues,
        k.names(record.queue),
        k.tombstones(record.queue),
      ],
      [id, score, record.queue, record.jobName],
    );
    return result === 1 ? 'indexed' : result === 0 ? 'exists' : 'tombstoned';
  }

  /** Loads records by id, in order; `undefined` for a missing, removed or unreadable one. */
  async load(ids: readonly string[]): Promise<Array<LoadedDeadLetter | undefined>> {
    if (ids.length === 0) return [];
    const pipeline = this.client.pipeline();
    for (const id of ids) pipeline.hmget(this.keys.job(id), 'data', REDRIVE_CLAIM_FIELD);
    const replies = (await pipeline.exec()) ?? [];
    const loaded = ids.map((id, i): LoadedDeadLetter | undefined => {
      const [error, fields] = replies[i] ?? [];
      if (error) throw error;
      const [data, claim] = (fields as [string | null, string | null] | undefined) ?? [null, null];
      const record = parseJson(data);
      if (!isRecord(record)) return undefined;
      return { id, record, claim: parseJson(claim) as RedriveClaim | undefined };
    });
    // A removed record whose job could not be deleted yet (it was being indexed) is gone all the same.
    const byQueue = new Map<string, number[]>();
    loaded.forEach((entry, i) => {
      if (!entry) return;
      const positions = byQueue.get(entry.record.queue) ?? [];
      positions.push(i);
      byQueue.set(entry.record.queue, positions);
    });
    if (byQueue.size === 0) return loaded;
    const tombstones = this.client.pipeline();
    for (const [queue, positions] of byQueue) {
      tombstones.zmscore(this.keys.tombstones(queue), ...positions.map((i) => ids[i] ?? ''));
    }
    const scoreReplies = (await tombstones.exec()) ?? [];
    [...byQueue.values()].forEach((positions, q) => {
      const [error, scores] = (scoreReplies[q] ?? [null, []]) as [Error | null, Array<string | null>];
      if (error) throw error;
      positions.forEach((position, j) => {
        if (scores[j] !== null) loaded[position] = undefined;
      });
    });
    return loaded;
  }

  /** One record, or `undefined` when there is none with this id. */
  async get(id: string): Promise<StoredDeadLetter | undefined> {
    const [loaded] = await this.load([id]);
    return loaded ? { id: loaded.id, record: loaded.record } : undefined;
  }

  /** The index key that answers a query's filters. */
  indexFor(filter: { queue?: string | undefined; name?: string | undefined }): string {
    const { queue, name } = filter;
    if (queue !== undefined && name !== undefined) return this.keys.byJob(queue, name);
    if (queue !== undefined) return this.keys.byQueue(queue);
    if (name !== undefined) return this.keys.byName(name);
    return this.keys.all;
  }

  /** A page of records, newest first; filters combine (AND). */
  async list(query: DeadLetterQuery): Promise<DeadLetterPage> {
    checkLimit('limit', query.limit);
    const min = sinceMs(query.since);
    const key = this.indexFor(query);
    let position: IndexEntry | undefined =
      query.cursor === undefined ? undefined : decodeCursor(query.cursor);
    const items: StoredDeadLetter[] = [];
    let hasMore = false;
    for (;;) {
      const need = query.limit - items.length;
      // One entry more than needed tells whether a next page exists.
      const entries = await entriesAfter(this.client, key, min, position, need + 1);
      const taken = entries.slice(0, need);
      const loaded = await this.load(taken.map((e) => e.id));
      taken.forEach((entry, i) => {
        position = entry;
        const record = loaded[i];
        if (record) items.push({ id: record.id, record: record.record });
      });
      if (entries.length <= need) break;
      if (items.length === query.limit) {
        hasMore = true;
        break;
      }
      // Some entries pointed at records removed meanwhile: read on from the last one taken.
    }
    const nextCursor = hasMore && position ? encodeCursor(position) : undefined;
    return { items, nextCursor };
  }

  /** How many records are indexed: of one source queue, or in all. */
  async count(queue?: string): Promise<number> {
    return this.client.zcard(queue === undefined ? this.keys.all : this.keys.byQueue(queue));
  }

  /** The source queues known to the store: the contracts' and every queue that has had a record. */
  async queueNames(): Promise<string[]> {
    const seen = await this.client.smembers(this.keys.queues);
    return [...new Set([...this.contracts.keys(), ...seen])].sort();
  }

  /** Records per source queue (every known queue, zero included). */
  async counts(): Promise<Record<string, number>> {
    // The contracts' queues are known up front: count them in the round trip that reads the others' names.
    const known = [...this.contracts.keys()];
    const first = this.client.pipeline().smembers(this.keys.queues);
    for (const queue of known) first.zcard(this.keys.byQueue(queue));
    const replies = (await first.exec()) ?? [];
    const value = (reply: [Error | null, unknown] | undefined) => {
      const [error, result] = reply ?? [];
      if (error) throw error;
      return result;
    };
    const found = new Map<string, number>();
    known.forEach((queue, i) => {
      found.set(queue, Number(value(replies[i + 1]) ?? 0));
    });
    const others = [...new Set((value(replies[0]) as string[] | undefined) ?? [])].filter(
      (queue) => !found.has(queue),
    );
    if (others.length > 0) {
      const second = this.client.pipeline();
      for (const queue of others) second.zcard(this.keys.byQueue(queue));
      const more = (await second.exec()) ?? [];
      others.forEach((queue, i) => {
        found.set(queue, Number(value(more[i]) ?? 0));
      });
    }
    const counts: Record<string, number> = {};
    for (const queue of [...found.keys()].sort()) counts[queue] = found.get(queue) ?? 0;
    return counts;
  }

  /**
   * Deletes a record: its job and its index entries. A tombstone stays until
   * reconciliation has read past the record's failure time, so the source
   * job, still in its queue's `failed` set, does not bring the record back.
   * Throws {@link DeadLetterNotFoundError} when there is no such record.
   */
  async remove(id: string): Promise<void> {
    const [loaded] = await this.load([id]);
    const indexedAt = await this.client.zscore(this.keys.all, id);
    if (!loaded && indexedAt === null) throw new DeadLetterNotFoundError(id);
    const queue = loaded?.record.queue ?? parseDeadLetterId(id)?.queue;
    const score = failureTime(id, loaded?.record) ?? Number(indexedAt);
    if (queue === undefined || !Number.isFinite(score)) throw new DeadLetterNotFoundError(id);
    const names = loaded ? [loaded.record.jobName] : await this.client.smembers(this.keys.names(queue));
    await this.removeEntries(queue, names, [{ id, score }]);
  }

  /**
   * Removes records of one source queue, in an order that survives a crash at
   * any step: tombstones first (reconciliation will not bring them back, reads
   * skip them), then the jobs, then the index entries (a rerun finds the rest).
   * A job being indexed at this moment cannot be deleted (BullMQ answers 0);
   * the processor deletes it when it sees the tombstone.
   */
  async removeEntries(
    queue: string,
    names: readonly string[],
    entries: readonly IndexEntry[],
  ): Promise<void> {
    if (entries.length === 0) return;
    const ids = entries.map((e) => e.id);
    const k = this.keys;
    await this.client.zadd(k.tombstones(queue), ...entries.flatMap((e) => [e.score, e.id]));
    await Promise.all(ids.map((id) => this.deadLetterQueue.remove(id)));
    const multi = this.client.multi();
    multi.zrem(k.all, ...ids);
    multi.zrem(k.byQueue(queue), ...ids);
    for (const name of names) {
      multi.zrem(k.byJob(queue, name), ...ids);
      multi.zrem(k.byName(name), ...ids);
    }
    await multi.exec();
  }

  /** Closes the BullMQ queues the store made; the connection stays open (its owner closes it). */
  async close(): Promise<void> {
    await Promise.all([this.deadLetterQueue.close(), ...[...this.#sources.values()].map((q) => q.close())]);
  }
}
