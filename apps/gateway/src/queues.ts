import { catalog, type QueueContract } from '@jobfleet/queue-contracts';
import type { RedisClient } from '@jobfleet/service-kit';
import { activeTelemetry, type Logger, queuePrefix } from '@jobfleet/service-kit';
import { Queue, type Telemetry } from 'bullmq';
import { UnknownQueueError } from './errors.js';
import { JobWriter } from './job-writer.js';

/** The catalog's queue names, as a 404 for any other name lists them. */
const KNOWN_QUEUES = Object.keys(catalog).join(', ');

/** The 404 for a queue outside the catalog; the name is cut, as it echoes client input. */
export const unknownQueue = (name: string) => new UnknownQueueError(name.slice(0, 128), KNOWN_QUEUES);

/** A catalog queue the gateway posts to, with its contract. */
export interface GatewayQueue {
  readonly contract: QueueContract;
  readonly queue: Queue<unknown, unknown, string>;
  /** What enqueue routes add jobs with. */
  readonly writer: JobWriter;
}

/**
 * One BullMQ `Queue` per catalog queue, all on the gateway's one producer
 * connection (BullMQ treats a passed-in connection as shared and does not close
 * it). `close()` closes the queues; the connection's owner closes it after.
 *
 * With tracing on, each queue gets BullMQ's `telemetry`, so that adding a job
 * opens a producer span in the current request's trace and the job carries
 * that context to the worker.
 */
export class GatewayQueues {
  readonly #queues = new Map<string, GatewayQueue>();

  constructor(
    connection: RedisClient,
    prefix: string,
    logger: Logger,
    /** Defaults to the telemetry of the tracing this process started, if any. */
    telemetry: Telemetry | undefined = activeTelemetry(),
  ) {
    for (const contract of Object.values(catalog) as QueueContract[]) {
      const queue = new Queue<unknown, unknown, string>(contract.name, {
        connection,
        prefix: queuePrefix(connection, prefix, contract.name),
        ...(telemetry ? { telemetry } : {}),
      });
      queue.on('error', (error) => {
        // Outages are logged once by the connection; anything else is worth a line each.
        if (connection.status === 'ready') logger.error({ err: error, queue: contract.name }, 'queue error');
      });
      const writer = new JobWriter(queue, Object.keys(contract.jobs), { telemetry: telemetry !== undefined });
      this.#queues.set(contract.name, { contract, queue, writer });
    }
  }

  get(name: string): GatewayQueue | undefined {
    return this.#queues.get(name);
  }

  /** The queue named `name`; {@link UnknownQueueError} (404) for a name outside the catalog. */
  require(name: string): GatewayQueue {
    const entry = this.#queues.get(name);
    if (!entry) throw unknownQueue(name);
    return entry;
  }

  values(): IterableIterator<GatewayQueue> {
    return this.#queues.values();
  }

  async close(): Promise<void> {
    await Promise.all([...this.#queues.values()].map(({ queue }) => queue.close()));
  }
}
