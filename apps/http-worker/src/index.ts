/**
 * What other workspaces may use of the http-worker; the worker itself is
 * `worker.ts`, run by `main.ts`.
 */
export { endpointOf, httpWorkerConfig, queueUrlKey } from './config.js';
export { createPushHandler, type PushRequest } from './push.js';
export { createHttpWorker, worker } from './worker.js';
