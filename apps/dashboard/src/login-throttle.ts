/** Failures counted per key until the window ends. */
interface Entry {
  failures: number;
  resetAt: number;
}

export interface LoginThrottleOptions {
  /** Failed logins from one address for one username before further tries are refused. */
  maxFailures: number;
  /** How long failures are remembered, and how long a lockout lasts from the last failure. */
  lockoutMs: number;
  /** One address trying many usernames is refused after this many failures in all. */
  maxFailuresPerAddress?: number;
  /** Entries kept at most; the oldest go first. Bounds memory under a flood of addresses. */
  maxEntries?: number;
  now?: () => number;
}

/**
 * Throttles password guessing, in this process's memory: after `maxFailures`
 * failed logins for one username from one address (or four times as many from
 * one address in all), that pair (or address) is refused until `lockoutMs`
 * after its last failure. A success clears the pair's count. Keying on the
 * address as well as the name keeps a stranger from locking a real user out.
 */
export class LoginThrottle {
  readonly #entries = new Map<string, Entry>();
  readonly #maxFailures: number;
  readonly #maxPerAddress: number;
  readonly #lockoutMs: number;
  readonly #maxEntries: number;
  readonly #now: () => number;

  constructor(options: LoginThrottleOptions) {
    this.#maxFailures = options.maxFailures;
    this.#maxPerAddress = options.maxFailuresPerAddress ?? options.maxFailures * 4;
    this.#lockoutMs = options.lockoutMs;
    this.#maxEntries = options.maxEntries ?? 10_000;
    this.#now = options.now ?? Date.now;
  }

  #keys(address: string, username: string): [string, number][] {
    return [
      [`pair\u0000${address}\u0000${username.toLowerCase()}`, this.#maxFailures],
      [`address\u0000${address}`, this.#maxPerAddress],
    ];
  }

  /** Milliseconds until this address may try this username again; 0 when it may now. */
  retryAfterMs(address: string, username: string): number {
    const now = this.#now();
    let wait = 0;
    for (const [key, limit] of this.#keys(address, username)) {
      const entry = this.#entries.get(key);
      if (entry && entry.failures >= limit && now < entry.resetAt) wait = Math.max(wait, entry.resetAt - now);
    }
    return wait;
  }

  recordFailure(address: string, username: string): void {
    const now = this.#now();
    for (const [key] of this.#keys(address, username)) {
      const entry = this.#entries.get(key);
      if (entry && now < entry.resetAt) {
        entry.failures += 1;
        entry.resetAt = now + this.#lockoutMs;
        // Re-insert, so the map's order stays oldest-first for eviction.
        this.#entries.delete(key);
        this.#entries.set(key, entry);
      } else {
        this.#entries.delete(key);
        this.#entries.set(key, { failures: 1, resetAt: now + this.#lockoutMs });
      }
    }
    this.#evict(now);
  }

  recordSuccess(address: string, username: string): void {
    const [pair] = this.#keys(address, username);
    if (pair) this.#entries.delete(pair[0]);
  }

  #evict(now: number): void {
    if (this.#entries.size <= this.#maxEntries) return;
    for (const [key, entry] of this.#entries) {
      if (entry.resetAt <= now) this.#entries.delete(key);
    }
    for (const key of this.#entries.keys()) {
      if (this.#entries.size <= this.#maxEntries) break;
      this.#entries.delete(key);
    }
  }
}
