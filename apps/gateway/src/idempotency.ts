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
  | { state: 'done'; fingerprint: string; response: StoredResponse };

/** What {@link IdempotencyStore.claim} found. */
export type Claim =
  /** The key is new: this request is the one that does the work, then calls `complete` or `release`. */
  | { kind: 'claimed'; complete(response: StoredResponse): Promise<void>; release(): Promise<void> }
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
 */
export class IdempotencyStore {
  readonly #redis: RedisClient;
  readonly #prefix: string;
  readonly #ttlMs: number;
  readonly #pendingTtlMs: number;
  readonly #waitMs: number;

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
    for (;;) {
      const claimed = await this.#redis.set(key, JSON.stringify(pending), 'PX', this.#pendingTtlMs, 'NX');
      if (claimed === 'OK') return this.#claim(key, owner, fingerprint);
      const found = await this.#read(key);
      // Gone between SET NX and GET (expired or released): try to claim again.
      if (found) {
        if (found.fingerprint !== fingerprint) throw new IdempotencyKeyReusedError();
        if (found.state === 'done') return { kind: 'replay', response: found.response };
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

  #claim(key: string, owner: string, fingerprint: string): Claim {
    return {
      kind: 'claimed',
      complete: async (response) => {
        const done: IdempotencyRecord = { state: 'done', fingerprint, response };
        await this.#redis.set(key, JSON.stringify(done), 'PX', this.#ttlMs);
      },
      release: async () => {
        // Only our own pending record: never a record another request has claimed since.
        await this.#redis
          .eval(RELEASE_SCRIPT, 1, key, owner)
          .catch(() => undefined /* it expires after the pending TTL anyway */);
      },
    };
  }
}

/** Deletes the record if it is still the pending claim of `ARGV[1]`. */
const RELEASE_SCRIPT = `
local raw = redis.call('GET', KEYS[1])
if raw and string.find(raw, '"owner":"' .. ARGV[1] .. '"', 1, true) then
  return redis.call('DEL', KEYS[1])
end
return 0`;
