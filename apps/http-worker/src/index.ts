/**
 * What other workspaces may use of the http-worker; the worker itself is
 * `worker.ts`, run by `main.ts`.
 */
export { endpointOf, httpWorkerConfig, queueUrlKey } from './config.js';
export {
  createPushHandler,
  EndpointRefusedError,
  EndpointUnavailableError,
  type PushRequest,
} from './push.js';
export { MAX_RETRY_AFTER_MS, parseRetryAfter } from './retry-after.js';
export { createHttpWorker, worker } from './worker.js';
