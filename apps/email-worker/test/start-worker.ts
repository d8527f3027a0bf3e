import type { emails } from '@jobfleet/queue-contracts';
import { createLogger, loadConfig } from '@jobfleet/service-kit';
import { type LogLine, logSink } from '@jobfleet/test-utils';
import type { HandlerMap } from '@jobfleet/worker-runtime';
import { emailWorkerConfig } from '../src/config.js';
import { type EmailWorker, startEmailWorker } from '../src/worker.js';

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

export type { LogLine } from '@jobfleet/test-utils';

export interface InProcessWorker extends EmailWorker {
  /** Every log line so far. */
  readonly logs: LogLine[];
}

/** The email worker as main.ts builds it, in-process: no signal handlers, metrics on a free port, logs kept. */
export async function startInProcessWorker(options: InProcessWorkerOptions): Promise<InProcessWorker> {
  const config = loadConfig(emailWorkerConfig, {
    REDIS_URL: options.redisUrl,
    JOBFLEET_PREFIX: options.prefix,
    HOST: '127.0.0.1',
    METRICS_PORT: '0',
    EMAIL_OUTBOX_DIR: options.outboxDir,
    ...options.env,
  });
  const { destination, lines: logs } = logSink();
  const worker = await startEmailWorker({
    config,
    logger: createLogger({ service: 'email-worker', level: 'info', destination }),
    handleSignals: false,
    wrap: options.wrap,
  });
  await worker.worker.waitUntilReady();
  return { ...worker, logs };
}
