import { duplicateForBlocking, type Logger, queuePrefix, type RedisClient } from '@jobfleet/service-kit';
import { QueueEvents } from 'bullmq';

/**
 * What happened to one job, as BullMQ's queue events tell it: its progress, or
 * a change of state (the listener reads the job again for the details).
 */
export type JobEvent =
  | { type: 'progress'; progress: unknown }
  | { type: 'active' | 'waiting' | 'delayed' | 'completed' | 'failed' | 'removed' };

export type JobEventListener = (event: JobEvent) => void;

/** The state changes forwarded to a job's listeners; `failed` is emitted only when a job fails for good. */
const STATE_EVENTS = ['active', 'waiting', 'delayed', 'completed', 'failed', 'removed'] as const;

interface QueueListeners {
  /** Resolves once events from now on will reach the listeners. */
  readonly started: Promise<void>;
  events?: QueueEvents;
  connection?: RedisClient;
  readonly byJob: Map<string, Set<JobEventListener>>;
}

/**
 * The gateway's one view of each queue's event stream, shared by every request
 * waiting for a job (`waitMs`, SSE): one BullMQ `QueueEvents`, on one dedicated
 * connection, per queue that someone waits on, made on first use. A thousand
 * waiters cost a thousand map entries, not a thousand Redis connections.
 *
 * A subscription starts at the Redis time of the queue's first subscription
 * (not at the first blocking read), so no event after that point is lost, and
 * a caller that subscribes before reading the job sees every later change.
 */
export class JobEvents {
  readonly #redis: RedisClient;
  readonly #prefix: string;
  readonly #logger: Logger;
  readonly #queues = new Map<string, QueueListeners>();
  readonly #closing = new AbortController();
  readonly #watches = new Set<Promise<unknown>>();
  #closed = false;

  /** `redis`: the gateway's producer connection; each queue's stream is read on a duplicate of it. */
  constructor(redis: RedisClient, prefix: string, logger: Logger) {
    this.#redis = redis;
    this.#prefix = prefix;
    this.#logger = logger;
  }

  /**
   * Calls `listener` with every later event of job `jobId` of `queue`, until
   * the returned function is called. Resolves once the subscription is live;
   * rejects when Redis cannot be asked for the starting point.
   */
  async subscribe(queue: string, jobId: string, listener: JobEventListener): Promise<() => void> {
    if (this.#closed) throw new Error('job events are closed');
    const entry = this.#listenersOf(queue);
    let listeners = entry.byJob.get(jobId);
    if (!listeners) {
      listeners = new Set();
      entry.byJob.set(jobId, listeners);
    }
    listeners.add(listener);
    const unsubscribe = () => {
      const current = entry.byJob.get(jobId);
      if (!current) return;
      current.delete(listener);
      if (current.size === 0) entry.byJob.delete(jobId);
    };
    try {
      await entry.started;
    } catch (error) {
      unsubscribe();
      throw error;
    }
    return unsubscribe;
  }

  /** Listeners currently subscribed, over all queues and jobs. */
  get listenerCount(): number {
    let count = 0;
    for (const entry of this.#queues.values()) {
      for (const listeners of entry.byJob.values()) count += listeners.size;
    }
    return count;
  }

  /** Aborted when the app closes: every waiting request answers and every stream ends. */
  get closing(): AbortSignal {
    return this.#closing.signal;
  }

  /** Lets {@link close} wait for `watch` (a request following a job) to finish its last read. */
  track<T>(watch: Promise<T>): Promise<T> {
    this.#watches.add(watch);
    const forget = () => this.#watches.delete(watch);
    watch.then(forget, forget);
    return watch;
  }

  /**
   * Ends every wait (through {@link closing}), lets them answer while Redis is
   * still there, then closes the event streams and their connections.
   */
  async close(): Promise<void> {
    this.#closed = true;
    this.#closing.abort();
    await Promise.allSettled([...this.#watches]);
    const entries = [...this.#queues.values()];
    this.#queues.clear();
    await Promise.all(
      entries.map(async (entry) => {
        entry.byJob.clear();
        await entry.started.catch(() => {});
        await entry.events?.close().catch(() => {});
        entry.connection?.disconnect();
      }),
    );
  }

  #listenersOf(queue: string): QueueListeners {
    const existing = this.#queues.get(queue);
    if (existing) return existing;
    const byJob = new Map<string, Set<JobEventListener>>();
    const entry: QueueListeners = { byJob, started: this.#start(queue, () => entry) };
    this.#queues.set(queue, entry);
    // A failed start (Redis away) is forgotten, so the next subscriber tries again.
    entry.started.catch(() => {
      if (this.#queues.get(queue) === entry) this.#queues.delete(queue);
    });
    return entry;
  }

  async #start(queue: string, entryOf: () => QueueListeners): Promise<void> {
    // Stream ids are Redis milliseconds: start just before now, so nothing from here on is missed.
    const [seconds, micros] = await this.#redis.time();
    const lastEventId = `${Number(seconds) * 1_000 + Math.floor(Number(micros) / 1_000) - 1}-0`;
    if (this.#closed) return;
    const entry = entryOf();
    // Blocking reads need their own connection that waits out outages (BullMQ requires maxRetriesPerRequest: null).
    const connection = duplicateForBlocking(this.#redis, 'gateway:events');
    connection.on('error', () => {
      // The producer connection logs outages; this one only follows it.
    });
    const events = new QueueEvents(queue, {
      connection,
      prefix: queuePrefix(this.#redis, this.#prefix, queue),
      lastEventId,
    });
    events.on('error', (error) => {
      if (connection.status === 'ready') this.#logger.error({ err: error, queue }, 'queue events error');
    });
    const dispatch = (jobId: string, event: JobEvent) => {
      const listeners = entry.byJob.get(jobId);
      if (!listeners) return;
      for (const listener of [...listeners]) listener(event);
    };
    events.on('progress', ({ jobId, data }) => dispatch(jobId, { type: 'progress', progress: data }));
    for (const type of STATE_EVENTS) {
      events.on(type, ({ jobId }: { jobId: string }) => dispatch(jobId, { type }));
    }
    entry.events = events;
    entry.connection = connection;
  }
}
