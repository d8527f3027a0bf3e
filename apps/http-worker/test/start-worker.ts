import { createLogger } from '@jobfleet/service-kit';
import { type LogLine, logSink } from '@jobfleet/test-utils';
import { worker } from '../src/worker.js';

export type InProcessWorker = Awaited<ReturnType<typeof worker.start>> & { readonly logs: LogLine[] };

/** The http-worker's `start()` on the test Redis, its log lines kept. */
export async function startInProcessWorker(options: {
  redisUrl: string;
  prefix: string;
  env: Record<string, string>;
  wrap?: Parameters<typeof worker.start>[0] extends infer O
    ? O extends { wrap?: infer W }
      ? W
      : never
    : never;
}): Promise<InProcessWorker> {
  const { destination, lines: logs } = logSink();
  const running = await worker.start({
    env: { REDIS_URL: options.redisUrl, JOBFLEET_PREFIX: options.prefix, ...options.env },
    logger: createLogger({ service: 'http-worker', level: 'info', destination }),
    ...(options.wrap ? { wrap: options.wrap } : {}),
  });
  return { ...running, logs };
}
