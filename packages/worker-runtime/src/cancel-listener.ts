import { CANCELLED_REASON, cancelChannel, cancelMarkerKey } from '@jobfleet/queue-contracts';
import { closeRedis, queuePrefix, type RedisClient } from '@jobfleet/service-kit';
import type { Logger } from 'pino';
import { JobCancelledError } from './errors.js';

export interface CancelListenerOptions {
  connection: RedisClient;
  prefix: string;
  queue: string;
  logger: Logger;
  /** How often the markers of this process's active jobs are re-read, for requests whose message was missed. */
  sweepMs: number;
  /** The jobs this process runs now, kept by the processor. */
  active: ReadonlyMap<string, CancellableRun>;
}

/** A job this process runs: its handler's signal, and the end of the wait for it. */
export interface CancellableRun {
  abort(reason: unknown): void;
  end(error: Error): void;
}

/**
 * Receives cross-process cancel requests (see queue-contracts' cancellation)
 * and aborts the signal of the job if this process runs it.
 */
export class CancelListener {
  private readonly active: ReadonlyMap<string, CancellableRun>;
  private readonly subscriber: RedisClient;
  private readonly channel: string;
  /** The queue's own prefix: its markers lie in its slot on Redis Cluster. */
  private readonly keyPrefix: string;
  private readonly sweep: NodeJS.Timeout;

  constructor(private readonly options: CancelListenerOptions) {
    this.active = options.active;
    this.keyPrefix = queuePrefix(options.connection, options.prefix, options.queue);
    this.channel = cancelChannel(this.keyPrefix, options.queue);
    this.subscriber = options.connection.duplicate();
    this.subscriber.on('error', () => {});
    // Subscribing again after a reconnect is ioredis's `autoResubscribe`, on by default.
    this.subscriber.subscribe(this.channel).catch((err: unknown) => {
      options.logger.error({ err, queue: options.queue }, 'could not subscribe to cancel requests');
    });
    this.subscriber.on('message', (_channel: string, jobId: string) => this.cancel(jobId));
    this.sweep = setInterval(() => void this.sweepMarkers(), options.sweepMs);
    this.sweep.unref();
  }

  /** Ends the job as cancelled and aborts its handler's signal, if this process runs it; true when it did. */
  cancel(jobId: string): boolean {
    const run = this.active.get(jobId);
    if (!run) return false;
    this.options.logger.info({ job_id: jobId, queue: this.options.queue }, 'cancelling job on request');
    run.abort(CANCELLED_REASON);
    run.end(new JobCancelledError());
    return true;
  }

  /** Forgets a finished cancel request. */
  async clear(jobId: string): Promise<void> {
    await this.options.connection.del(cancelMarkerKey(this.keyPrefix, this.options.queue, jobId));
  }

  private async sweepMarkers(): Promise<void> {
    if (this.active.size === 0) return;
    const ids = [...this.active.keys()];
    try {
      const markers = await this.options.connection.mget(
        ids.map((id) => cancelMarkerKey(this.keyPrefix, this.options.queue, id)),
      );
      markers.forEach((marker, i) => {
        const id = ids[i];
        if (marker !== null && id !== undefined) this.cancel(id);
      });
    } catch (err) {
      this.options.logger.warn({ err, queue: this.options.queue }, 'could not read cancel markers');
    }
  }

  async close(): Promise<void> {
    clearInterval(this.sweep);
    await closeRedis(this.subscriber);
  }
}
