import { createHash, randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { RedisClient } from '@jobfleet/service-kit';
import { IdempotencyInProgressError, IdempotencyKeyReusedError } from './errors.js';

/** A finished request as it is replayed: its status code and body. */
export interface StoredResponse {
  status: number;
  body: unknown;
}

type IdempotencyRecord =
  | { state: 'pending'; fingerprint: string; owner: string }
  /** Its request sent a write and got no reply in time: the next request with the key takes over. */
  | { state: 'unknown'; fingerprint: string; owner: string }
  | { state: 'done'; fingerprint: string; response: StoredResponse };

/** What {@link IdempotencyStore.claim} found. */
export type Claim =
  /**
   * The key is new (or its earlier request gave up not knowing whether its
   * write was done): this request is the one that does the work, then calls
   * `complete`, `release` or `abandon`.
   */
  | {
      kind: 'claimed';
      complete(response: StoredResponse): Promise<void>;
      /** Frees the key: nothing was written. */
      release(): Promise<void>;
      /** Marks the key as taken over by the next request with it: a write may have been done. */
      abandon(): Promise<void>;
    }
  /** The same request was done before: answer with what it answered. */
  | { kind: 'replay'; response: StoredResponse };

export interface IdempotencyOptions {
  redis: RedisClient;
  prefix: string;
  /** How long a finished request is remembered (ms). */
  ttlMs: number;
  /**
   * How long a claim may stay pending (ms): should the gateway that claimed it
   * die mid-request, the key is free again after this.
   */
  pendingTtlMs?: number;
  /** How long a concurrent duplicate waits for the first request to finish before a 409 (ms). */
  waitMs?: number;
}

/**
 * A canonical form of a JSON value: object keys sorted, so the same request
 * sent with its keys in another order or other whitespace has the same print.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const entries = Object.keys(value)
    .sort()
    .map((key) => `${JSON.stringify(key)}:${canonicalJson((value as Record<string, unknown>)[key])}`);
  return `{${entries.join(',')}}`;
}

/** The fingerprint of a request: where it went and what it said. */
export function requestFingerprint(method: string, path: string, body: unknown): string {
  return createHash('sha256')
    .update(`${method} ${path}\n${canonicalJson(body)}`)
    .digest('base64url');
}

/**
 * `Idempotency-Key` records in Redis, one per (API key id, Idempotency-Key),
 * under the configured prefix. The first request claims the key atomically
 * (`SET NX` of a pending record, so of 50 concurrent duplicates exactly one
 * does the work), then stores its answer for `ttlMs`; that answer outlives the
 * job itself, so a retry a day later still gets the original id even when the
 * job has long been removed. A duplicate that arrives while the first request
 * is still running waits for it (polling, up to `waitMs`), then replays its
 * answer. A request with the same key but another fingerprint is a 422.
 *
 * A request whose write went unanswered (Redis hung or the connection broke)
 * marks its claim `unknown` instead of freeing it; the next request with the
 * key takes the claim over at once and does the work again, which finds the
 * job if the first write landed (its id is derived from the key). The marks
 * and releases are sent without waiting for their replies: while Redis hangs
 * they queue on the connection behind the request's own commands, and run, in
 * order, once it answers again. One that fails (the connection was broken, so
 * it was never sent) is kept and sent again every {@link SETTLE_RETRY_MS} until
 * it lands or the claim has expired by itself (`pendingTtlMs`); a retry of the
 * same key sends it first. So a retry after an outage finds its key free as
 * soon as Redis is back, not a claim stuck "in progress" for its lifetime.
 */
export class IdempotencyStore {
  readonly #redis: RedisClient;
  readonly #prefix: string;
  readonly #ttlMs: number;
  readonly #pendingTtlMs: number;
  readonly #waitMs: number;
  /** Releases and marks not sent yet, by record key: the command to send, until when it matters. */
  readonly #unsettled = new Map<string, { send: () => Promise<unknown>; until: number }>();
  #retrying: NodeJS.Timeout | undefined;
  #sweeping = false;

  constructor(options: IdempotencyOptions) {
    this.#redis = options.redis;
    this.#prefix = `${options.prefix}:jobfleet:idempotency:`;
    this.#ttlMs = options.ttlMs;
    this.#pendingTtlMs = Math.min(options.pendingTtlMs ?? 30_000, options.ttlMs);
    this.#waitMs = options.waitMs ?? 5_000;
  }

  /** The Redis key of one record; the client's key is hashed, so any printable key fits. */
  keyOf(clientId: string, idempotencyKey: string): string {
    const hashed = createHash('sha256').update(idempotencyKey).digest('base64url');
    return `${this.#prefix}${clientId}:${hashed}`;
  }

  /**
   * Claims `idempotencyKey` for this request, or finds the answer of an earlier
   * one. Throws {@link IdempotencyKeyReusedError} (422) when the key was used
   * for another request, and {@link IdempotencyInProgressError} (409) when the
   * first request is still running after `waitMs`.
   */
  async claim(clientId: string, idempotencyKey: string, fingerprint: string): Promise<Claim> {
    const key = this.keyOf(clientId, idempotencyKey);
    const owner = randomUUID();
    const pending: IdempotencyRecord = { state: 'pending', fingerprint, owner };
    const deadline = performance.now() + this.#waitMs;
    let pause = 2;
    // A release or mark of this key that an outage kept from Redis goes first: not awaited, since
    // commands on one connection run in order, and a hung Redis must not cost this request twice.
    void this.#retry(key);
    for (;;) {
      const claimed = await this.#redis
        .set(key, JSON.stringify(pending), 'PX', this.#pendingTtlMs, 'NX')
        .catch((error: unknown) => {
          // Perhaps set after all (no reply in time): free it again, in order behind the SET.
          this.#release(key, owner);
          throw error;
        });
      if (claimed === 'OK') return this.#claim(key, owner, fingerprint);
      const found = await this.#read(key);
      // Gone between SET NX and GET (expired or released): try to claim again.
      if (found) {
        if (found.fingerprint !== fingerprint) throw new IdempotencyKeyReusedError();
        if (found.state === 'done') return { kind: 'replay', response: found.response };
        if (found.state === 'unknown') {
          const taken = await this.#redis.eval(
            TAKE_OVER_SCRIPT,
            1,
            key,
            found.owner,
            JSON.stringify(pending),
            this.#pendingTtlMs,
          );
          if (taken === 1) return this.#claim(key, owner, fingerprint);
          // Another request took it over first: wait for it like for any pending one.
        }
      }
      if (performance.now() >= deadline) throw new IdempotencyInProgressError();
      await sleep(pause);
      pause = Math.min(pause * 2, 100);
    }
  }

  async #read(key: string): Promise<IdempotencyRecord | undefined> {
    const raw = await this.#redis.get(key);
    if (raw === null) return undefined;
    try {
      return JSON.parse(raw) as IdempotencyRecord;
    } catch {
      // Not ours to interpret; treat the key as used by another request.
      return { state: 'pending', fingerprint: '', owner: '' };
    }
  }

  /**
   * Deletes `owner`'s pending record. Not awaited by anyone: while Redis hangs
   * it must not hold the answer back, and the command, queued on the
   * connection behind the request's own, still runs once Redis answers again.
   */
  #release(key: string, owner: string): Promise<void> {
    return this.#settle(key, () => this.#redis.eval(RELEASE_SCRIPT, 1, key, owner));
  }

  /** Sends a release or mark; one that fails is kept for {@link IdempotencyStore.#retry}. */
  #settle(key: string, send: () => Promise<unknown>): Promise<void> {
    return send().then(
      () => {
        this.#unsettled.delete(key);
      },
      () => {
        this.#unsettled.set(key, { send, until: performance.now() + this.#pendingTtlMs });
        this.#retrying ??= setInterval(() => void this.#retryAll(), SETTLE_RETRY_MS).unref();
      },
    );
  }

  /** Sends the kept command of `key` again, if there is one; it stays kept if it fails again. */
  async #retry(key: string): Promise<void> {
    const entry = this.#unsettled.get(key);
    if (!entry) return;
    // Past the claim's own lifetime the record has expired: nothing left to settle.
    if (performance.now() > entry.until) {
      this.#unsettled.delete(key);
      return;
    }
    await entry.send().then(
      () => {
        if (this.#unsettled.get(key) === entry) this.#unsettled.delete(key);
      },
      () => {},
    );
  }

  async #retryAll(): Promise<void> {
    // One sweep at a time (a hung Redis holds each send up to the command timeout), and only while
    // Redis takes commands.
    if (this.#sweeping || this.#redis.status !== 'ready') return;
    this.#sweeping = true;
    try {
      await Promise.all([...this.#unsettled.keys()].map((key) => this.#retry(key)));
    } finally {
      this.#sweeping = false;
    }
    if (this.#unsettled.size === 0 && this.#retrying) {
      clearInterval(this.#retrying);
      this.#retrying = undefined;
    }
  }

  #claim(key: string, owner: string, fingerprint: string): Claim {
    return {
      kind: 'claimed',
      complete: async (response) => {
        const done: IdempotencyRecord = { state: 'done', fingerprint, response };
        await this.#redis.set(key, JSON.stringify(done), 'PX', this.#ttlMs);
      },
      release: () => this.#release(key, owner),
      abandon: () => {
        const unknown: IdempotencyRecord = { state: 'unknown', fingerprint, owner };
        // Not awaited either, for the same reason; kept and sent again like a release.
        return this.#settle(key, () =>
          this.#redis.eval(ABANDON_SCRIPT, 1, key, owner, JSON.stringify(unknown), this.#ttlMs),
        );
      },
    };
  }
}

/** How often releases and marks that could not be sent are tried again while Redis is back. */
export const SETTLE_RETRY_MS = 250;

/** `"owner":"<ARGV[1]>"` in the record at KEYS[1]: Lua has no JSON of its own in every Redis. */
const IS_OWNERS = `
local raw = redis.call('GET', KEYS[1])
local mine = raw and string.find(raw, '"owner":"' .. ARGV[1] .. '"', 1, true)`;

/** Deletes the record if it is still the pending claim of `ARGV[1]`. */
const RELEASE_SCRIPT = `${IS_OWNERS}
if mine and string.find(raw, '"state":"pending"', 1, true) then
  return redis.call('DEL', KEYS[1])
end
return 0`;

/** Replaces `ARGV[1]`'s pending record with ARGV[2] (its `unknown` record) for ARGV[3] ms. */
const ABANDON_SCRIPT = `${IS_OWNERS}
if mine and string.find(raw, '"state":"pending"', 1, true) then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  return 1
end
return 0`;

/** Replaces the `unknown` record of `ARGV[1]` with ARGV[2] (a new pending claim) for ARGV[3] ms. */
const TAKE_OVER_SCRIPT = `${IS_OWNERS}
if mine and string.find(raw, '"state":"unknown"', 1, true) then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  return 1
end
return 0`;
