import { catalog, type QueueContract } from '@jobfleet/queue-contracts';
import type { Logger } from '@jobfleet/service-kit';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';

/** A catalog queue the gateway posts to, with its contract. */
export interface GatewayQueue {
  readonly contract: QueueContract;
  readonly queue: Queue<unknown, unknown, string>;
}

/**
 * One BullMQ `Queue` per catalog queue, all on the gateway's one producer
 * connection (BullMQ treats a passed-in connection as shared and does not close
 * it). `close()` closes the queues; the connection's owner closes it after.
 */
export class GatewayQueues {
  readonly #queues = new Map<string, GatewayQueue>();

  constructor(connection: Redis, prefix: string, logger: Logger) {
    for (const contract of Object.values(catalog) as QueueContract[]) {
      const queue = new Queue<unknown, unknown, string>(contract.name, { connection, prefix });
      queue.on('error', (error) => {
        // Outages are logged once by the connection; anything else is worth a line each.
        if (connection.status === 'ready') logger.error({ err: error, queue: contract.name }, 'queue error');
      });
      this.#queues.set(contract.name, { contract, queue });
    }
  }

  get(name: string): GatewayQueue | undefined {
    return this.#queues.get(name);
  }

  values(): IterableIterator<GatewayQueue> {
    return this.#queues.values();
  }

  async close(): Promise<void> {
    await Promise.all([...this.#queues.values()].map(({ queue }) => queue.close()));
  }
}
