import { setTimeout as sleep } from 'node:timers/promises';
import { defineWorker } from '../../src/index.js';
import { pings } from '../fixture-contract.js';

/**
 * A worker whose `pause` jobs run long and honour their signal, as a handler
 * should: the graceful-restart test stops it while they run. Each finished
 * job counts its run in Redis (`<prefix>:runs:<job id>`), the side effect the
 * test counts.
 */
const worker = defineWorker({
  service: 'long-jobs-worker',
  metricsPort: 0,
  queues: [
    {
      contract: pings,
      handlers: ({ connection, prefix }) => ({
        ping: async ({ text }) => ({ echoed: text }),
        pause: async ({ ms }, { job, signal }) => {
          await sleep(ms, undefined, { signal });
          await connection.incr(`${prefix}:runs:${job.id}`);
          return null;
        },
      }),
    },
  ],
});

await worker.main();
