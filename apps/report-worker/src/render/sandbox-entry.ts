/**
 * The sandbox: runs in a worker thread, one per render. Input: a
 * `RenderRequest` as `workerData`. Output: `progress` messages, then one
 * `done` message with the bytes; a throw ends the thread with an `error`
 * event. It has no Redis, no store and no network: everything it may see
 * arrives in `workerData`.
 */
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { type RenderRequest, renderReport } from './render.js';
import type { SandboxMessage } from './sandbox-protocol.js';

if (isMainThread || !parentPort) throw new Error('the report sandbox runs only in a worker thread');
const port = parentPort;
const post = (message: SandboxMessage) => port.postMessage(message);

const body = await renderReport(workerData as RenderRequest, (percent) =>
  post({ type: 'progress', percent }),
);
post({ type: 'done', body });
