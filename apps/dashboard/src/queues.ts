import { catalog, deadLetters, type QueueContract } from '@jobfleet/queue-contracts';
import { type Logger, queuePrefix, type RedisClient } from '@jobfleet/service-kit';
import { Queue } from 'bullmq';

/** A queue the dashboard shows, with its contract. */
export interface DashboardQueue {
  readonly contract: QueueContract;
  readonly queue: Queue;
}

/** Every contract queue, then `dead-letters`: the queues the dashboard shows, in order. */
export const DASHBOARD_CONTRACTS: readonly QueueContract[] = [
  ...(Object.values(catalog) as QueueContract[]),
  deadLetters,
];

/**
 * One BullMQ `Queue` per shown queue, all on the dashboard's one producer
 * connection (BullMQ does not close a connection it was given). Jobs added from
 * the dashboard get the contract's default options, as the gateway's do.
 */
export class DashboardQueues {
  readonly #queues = new Map<string, DashboardQueue>();

  constructor(connection: RedisClient, prefix: string, logger: Logger) {
    for (const contract of DASHBOARD_CONTRACTS) {
      const queue = new Queue(contract.name, {
        connection,
        prefix: queuePrefix(connection, prefix, contract.name),
        defaultJobOptions: contract.defaultJobOptions,
      });
      queue.on('error', (error) => {
        // Outages are logged once by the connection; anything else is worth a line each.
        if (connection.status === 'ready') logger.error({ err: error, queue: contract.name }, 'queue error');
      });
      this.#queues.set(contract.name, { contract, queue });
    }
  }

  get(name: string): DashboardQueue | undefined {
    return this.#queues.get(name);
  }

  /** The shown queues, contract queues first and `dead-letters` last. */
  list(): DashboardQueue[] {
    return [...this.#queues.values()];
  }

  async close(): Promise<void> {
    await Promise.all(this.list().map(({ queue }) => queue.close()));
  }
}
