import { defineWorker } from '../../../src/index.js';
import { thumbnails } from '../contract.js';
import { handlers } from './handlers.js';

/** The thumbnails worker: the `thumbnails` queue and its handlers; the runtime does the rest. */
export const worker = defineWorker({
  service: 'thumbnails-worker',
  metricsPort: 9104,
  queues: [{ contract: thumbnails, handlers }],
});
