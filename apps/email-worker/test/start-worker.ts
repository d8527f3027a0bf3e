import type { emails } from '@jobfleet/queue-contracts';
import { createLogger } from '@jobfleet/service-kit';
import { type LogLine, logSink } from '@jobfleet/test-utils';
import type { HandlerMap } from '@jobfleet/worker-runtime';
import { createEmailResources, worker } from '../src/worker.js';

/** The built SMTP sender thread: tests run `src/`, whose module beside it is TypeScript. */
export const DIST_SENDER = new URL('../dist/smtp-sender-entry.js', import.meta.url);

export interface InProcessWorkerOptions {
  redisUrl: string;
  prefix: string;
  /** The outbox transport's directory; ignored when `env` sets `SMTP_URL`. */
  outboxDir?: string;
  /** More environment, e.g. `SMTP_URL`, `EMAIL_RATE_LIMIT`. */
  env?: Record<string, string>;
  /** Decorates the handlers (the contract suite's `wrap`, a crash simulation). */
  wrap?: (handlers: HandlerMap<typeof emails>) => HandlerMap<typeof emails>;
}

export type InProcessWorker = Awaited<ReturnType<typeof worker.start>> & {
  /** Every log line so far. */
  readonly logs: LogLine[];
};

/** The email worker's `start()`, its log lines kept for assertions. */
export async function startInProcessWorker(options: InProcessWorkerOptions): Promise<InProcessWorker> {
  const { destination, lines: logs } = logSink();
  const running = await worker.start({
    env: {
      REDIS_URL: options.redisUrl,
      JOBFLEET_PREFIX: options.prefix,
      EMAIL_OUTBOX_DIR: options.outboxDir,
      ...options.env,
    },
    logger: createLogger({ service: 'email-worker', level: 'info', destination }),
    resources: (context) => createEmailResources(context, { senderModule: DIST_SENDER }),
    ...(options.wrap ? { wrap: options.wrap } : {}),
  });
  return { ...running, logs };
}
