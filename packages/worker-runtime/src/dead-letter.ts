import { DeadLetterStore } from '@jobfleet/dead-letter-store';
import { toDeadLetter } from '@jobfleet/queue-contracts';
import type { Job, Telemetry } from 'bullmq';
import type { Redis } from 'ioredis';

/** Writes dead-letter records, one per final failure, through the dead-letter store. */
export class DeadLetterSink {
  private readonly store: DeadLetterStore;

  /** With `telemetry`, a record is added inside the failed attempt's span (BullMQ emits `failed` there). */
  constructor(connection: Redis, prefix: string, telemetry?: Telemetry) {
    this.store = new DeadLetterStore({ connection, prefix, telemetry });
  }

  /**
   * Records the failure; the record's id is derived from the failure itself, so
   * recording the same failure again adds nothing.
   */
  record(job: Job, error: Error | undefined): Promise<string> {
    return this.store.capture(toDeadLetter(job, error));
  }

  close(): Promise<void> {
    return this.store.close();
  }
}
