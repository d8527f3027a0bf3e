import { isNotConnectionError } from 'bullmq';
import type { Logger } from 'pino';

/**
 * Replies that mean the connection is of the wrong kind for this Redis, not a
 * passing fault: a standalone client on a Redis Cluster node gets `MOVED`/`ASK`
 * for keys of other nodes and `CLUSTERDOWN` while the node serves no slot;
 * `CROSSSLOT` means the queue's keys do not share a hash slot.
 */
export const CONFIGURATION_ERROR_KINDS: ReadonlySet<string> = new Set([
  'MOVED',
  'ASK',
  'CLUSTERDOWN',
  'CROSSSLOT',
]);

/**
 * The kind of an error for logs and readiness: a Redis reply's leading code
 * (`MOVED`, `OOM`, `READONLY`, `WRONGTYPE`, `NOSCRIPT`, `ERR`, …), else the
 * error's `code` or name.
 */
export function errorKind(error: Error): string {
  const reply = /^-?([A-Z][A-Z0-9_]{1,31})\b/.exec(error.message);
  if (reply?.[1]) return reply[1];
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' && code ? code : error.name || 'Error';
}

/** What `/health/ready` reports while a queue's worker cannot fetch jobs. */
export interface RedisFault {
  readonly kind: string;
  /** A configuration error (see {@link CONFIGURATION_ERROR_KINDS}): fixing it needs an operator. */
  readonly configuration: boolean;
  readonly message: string;
  /** Epoch milliseconds of the first failure of this episode. */
  readonly since: number;
}

export interface RedisFaultsOptions {
  queue: string;
  logger: Logger;
  /** The first pause after a failed fetch; doubled on each further failure. Default 250 ms. */
  baseDelayMs?: number;
  /** The longest pause between fetches while they fail. Default 30 s. */
  maxDelayMs?: number;
  /** Each error kind is logged at most once per interval, then as one line with a count. Default 10 s. */
  logIntervalMs?: number;
}

interface LogWindow {
  what: string;
  kind: string;
  suppressed: number;
  last: Error;
  timer: NodeJS.Timeout;
}

/**
 * One queue's view of Redis errors that reconnecting cannot cure (`MOVED`,
 * `OOM`, `READONLY`, …): how long its worker pauses before fetching again
 * (exponential, capped), bounded logging (one line per error kind per
 * interval, with a count), the once-per-episode report of a configuration
 * error, and the fault `/health/ready` shows until a fetch succeeds.
 */
export class RedisFaults {
  private readonly queue: string;
  private readonly logger: Logger;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly logIntervalMs: number;
  private readonly windows = new Map<string, LogWindow>();
  private failures = 0;
  private current: RedisFault | undefined;
  private lastError: Error | undefined;
  private configurationReported = false;

  constructor(options: RedisFaultsOptions) {
    this.queue = options.queue;
    this.logger = options.logger;
    this.baseDelayMs = options.baseDelayMs ?? 250;
    this.maxDelayMs = Math.max(options.maxDelayMs ?? 30_000, this.baseDelayMs);
    this.logIntervalMs = options.logIntervalMs ?? 10_000;
  }

  /** The fault that stops this queue's worker from fetching jobs, if any. */
  get fault(): RedisFault | undefined {
    return this.current;
  }

  /**
   * A failed fetch: marks the fault and returns how long to pause before the
   * next one. Connection errors are ioredis's to retry (commands wait for the
   * reconnect), so they get no pause of their own.
   */
  fetchFailed(given?: Error): number {
    // Without an argument: the error the worker emitted just before (a failed blocking wait), used once.
    const error = given ?? this.lastError;
    this.lastError = undefined;
    if (!error || !isNotConnectionError(error)) return 0;
    const kind = errorKind(error);
    if (this.current?.kind !== kind) {
      this.current = {
        kind,
        configuration: CONFIGURATION_ERROR_KINDS.has(kind),
        message: error.message,
        since: this.current?.since ?? Date.now(),
      };
    }
    const exponent = Math.min(this.failures, 30);
    this.failures += 1;
    const delay = Math.min(this.baseDelayMs * 2 ** exponent, this.maxDelayMs);
    // ±20 %: replicas that failed together do not retry in lockstep.
    return Math.round(delay * (0.8 + Math.random() * 0.4));
  }

  /** A fetch succeeded: the fault is over. */
  fetchSucceeded(): void {
    if (this.failures === 0 && !this.current) return;
    const fault = this.current;
    this.failures = 0;
    this.current = undefined;
    this.lastError = undefined;
    this.configurationReported = false;
    if (fault) {
      this.logger.info(
        { queue: this.queue, error_kind: fault.kind, down_ms: Date.now() - fault.since },
        'worker fetches jobs again',
      );
    }
  }

  /** Whether the worker is pausing between failed fetches. */
  get backingOff(): boolean {
    return this.failures > 0;
  }

  /**
   * Logs an error at most once per kind per interval: `what` says what failed
   * (default `worker error`, an error the BullMQ worker emitted; the runtime's
   * other Redis writers, such as the usage ledger, pass their own).
   */
  report(error: Error, what = 'worker error'): void {
    if (what === 'worker error') this.lastError = error;
    const kind = errorKind(error);
    const key = `${what}\u0000${kind}`;
    const window = this.windows.get(key);
    if (window) {
      window.suppressed += 1;
      window.last = error;
      return;
    }
    if (CONFIGURATION_ERROR_KINDS.has(kind) && !this.configurationReported) {
      this.configurationReported = true;
      this.logger.error(
        { queue: this.queue, error_kind: kind, err: error },
        `Redis configuration error: Redis answers ${kind}, so this worker's connection does not fit this Redis ` +
          '(a standalone client on a Redis Cluster node, a cluster that serves no slot here, or queue keys ' +
          'in different hash slots). The worker backs off and /health/ready answers 503 until it is fixed; ' +
          'check REDIS_URL and the connection mode',
      );
    } else {
      this.logger.error({ queue: this.queue, error_kind: kind, err: error }, what);
    }
    this.windows.set(key, { what, kind, suppressed: 0, last: error, timer: this.arm(key) });
  }

  private arm(key: string): NodeJS.Timeout {
    const timer = setTimeout(() => this.flush(key), this.logIntervalMs);
    timer.unref();
    return timer;
  }

  /** Ends an interval: the errors held back in it as one line; the window stays open while they go on. */
  private flush(key: string): void {
    const window = this.windows.get(key);
    if (!window) return;
    if (window.suppressed === 0) {
      this.windows.delete(key);
      return;
    }
    this.logger.error(
      {
        queue: this.queue,
        error_kind: window.kind,
        count: window.suppressed,
        interval_ms: this.logIntervalMs,
        last_error: window.last.message,
      },
      `${window.what} repeated`,
    );
    window.suppressed = 0;
    window.timer = this.arm(key);
  }

  /** Logs what is still held back and stops the timers. */
  close(): void {
    for (const [key, window] of this.windows) {
      clearTimeout(window.timer);
      if (window.suppressed > 0) this.flush(key);
      const left = this.windows.get(key);
      if (left) clearTimeout(left.timer);
    }
    this.windows.clear();
  }
}
