import { type Job, type Processor, Worker, type WorkerOptions } from 'bullmq';
import type { RedisFaults } from './redis-faults.js';

/**
 * A BullMQ worker that pauses between failed fetches. BullMQ retries a fetch
 * that failed with anything but a connection error at once (`MOVED`, `OOM`,
 * `READONLY`, … on every command: thousands of attempts and log lines a
 * second), and a failed blocking wait for jobs after 100 ms. Here both pause
 * for {@link RedisFaults.fetchFailed}'s exponential delay instead, which
 * `close()` cuts short; the first fetch that succeeds ends the fault.
 */
export class BackoffWorker extends Worker {
  private readonly pauses = new AbortController();

  constructor(
    name: string,
    processor: Processor,
    opts: WorkerOptions,
    private readonly faults: RedisFaults,
  ) {
    super(name, processor, opts);
  }

  protected override async moveToActive(token: string, name?: string): Promise<Job> {
    let job: Job;
    try {
      job = await super.moveToActive(token, name);
    } catch (error) {
      // BullMQ emits the error itself once this rethrows; the pause comes first, so it logs no faster.
      await this.backOff(this.faults.fetchFailed(error as Error));
      throw error;
    }
    this.faults.fetchSucceeded();
    return job;
  }

  /**
   * BullMQ calls `delay()` without a time only after a blocking wait for jobs
   * failed (its `error` event, which the runtime reports to the faults, came
   * just before): that failure pauses like a failed fetch.
   */
  override async delay(
    milliseconds?: number,
    abortController?: Parameters<Worker['delay']>[1],
  ): Promise<void> {
    if (milliseconds === undefined && !this.closing) {
      const pause = this.faults.fetchFailed();
      if (pause > 0) return this.backOff(pause);
    }
    return super.delay(milliseconds, abortController);
  }

  override async close(force?: boolean): Promise<void> {
    this.pauses.abort();
    return super.close(force);
  }

  private backOff(ms: number): Promise<void> {
    if (ms <= 0 || this.pauses.signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.pauses.signal.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.pauses.signal.addEventListener('abort', done, { once: true });
    });
  }
}
