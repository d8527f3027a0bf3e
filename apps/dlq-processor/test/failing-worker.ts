/**
 * A worker process for the capture tests: the real worker runtime on the
 * `emails` queue with handlers that always throw. At its `FREEZE_AT_FAILURE`th
 * final failure it freezes inside the `failed` event — after BullMQ has moved
 * the job to `failed`, before the runtime's dead-letter write has reached Redis
 * — and says so on standard output, so the test can `kill -9` it at exactly
 * the moment that loses a record.
 *
 * Environment: REDIS_URL, JOBFLEET_PREFIX, FREEZE_AT_FAILURE, WORKER_CONCURRENCY.
 */
import { writeSync } from 'node:fs';
import { emails } from '@jobfleet/queue-contracts';
import { createLogger, createMetricsRegistry } from '@jobfleet/service-kit';
import { createWorkerRuntime, type HandlerMap } from '@jobfleet/worker-runtime';
import { Redis } from 'ioredis';

const say = (line: object) => writeSync(1, `${JSON.stringify(line)}\n`);
const fail = async (): Promise<never> => {
  throw new Error('always fails');
};
const handlers: HandlerMap<typeof emails> = { welcome: fail, 'password-reset': fail, notification: fail };

const connection = new Redis(process.env.REDIS_URL ?? '', { maxRetriesPerRequest: null });
const runtime = createWorkerRuntime({
  contract: emails,
  handlers,
  connection,
  prefix: process.env.JOBFLEET_PREFIX ?? '',
  logger: createLogger({ service: 'failing-worker', level: 'silent' }),
  registry: createMetricsRegistry(),
  concurrency: Number(process.env.WORKER_CONCURRENCY ?? 4),
  workerOptions: { lockDuration: 1_000, stalledInterval: 500 },
});

const freezeAt = Number(process.env.FREEZE_AT_FAILURE ?? 0);
let failures = 0;
// Registered after the runtime's own listener, which has only started its write (that awaits first).
runtime.worker.on('failed', (job) => {
  if (!job?.finishedOn) return;
  failures += 1;
  if (failures !== freezeAt) return;
  say({ msg: 'frozen', job_id: job.id, failures });
  // Block the event loop for good: nothing more reaches Redis; only SIGKILL ends this.
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
});

await runtime.worker.waitUntilReady();
say({ msg: 'ready' });
