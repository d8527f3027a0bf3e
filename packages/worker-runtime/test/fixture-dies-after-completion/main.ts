import { defineWorker } from '../../src/index.js';
import { pings } from '../fixture-contract.js';

/**
 * A worker killed (SIGKILL, by itself) right after BullMQ records its first
 * completed job, before any other `completed` listener runs: the runtime's
 * own, which queues the completion webhook, never does. The webhook-crash test
 * runs it.
 */
const running = await defineWorker({
  service: 'dies-after-completion-worker',
  metricsPort: 0,
  queues: [
    {
      contract: pings,
      handlers: () => ({ ping: async ({ text }) => ({ echoed: text }), pause: async () => null }),
    },
  ],
}).main();
running.worker.prependListener('completed', () => process.kill(process.pid, 'SIGKILL'));
running.logger.info('dies after its next completion');
