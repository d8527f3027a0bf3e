import { emails } from '@jobfleet/queue-contracts';
import { createLogger, loadConfig } from '@jobfleet/service-kit';
import { type HandlerMap, type RunningWorker, runWorker } from '@jobfleet/worker-runtime';
import { emailWorkerConfig } from '../src/config.js';
import { createEmailHandlers } from '../src/handlers.js';
import { createOutboxTransport } from '../src/outbox.js';

export interface InProcessWorkerOptions {
  redisUrl: string;
  prefix: string;
  outboxDir: string;
  /** Decorates the handlers (the contract suite's `wrap`, a crash simulation). */
  wrap?: (handlers: HandlerMap<typeof emails>) => HandlerMap<typeof emails>;
}

/** The email worker as main.ts builds it, in-process: no signal handlers, metrics on a free port, silent. */
export async function startInProcessWorker(options: InProcessWorkerOptions): Promise<RunningWorker> {
  const config = loadConfig(emailWorkerConfig, {
    REDIS_URL: options.redisUrl,
    JOBFLEET_PREFIX: options.prefix,
    HOST: '127.0.0.1',
    METRICS_PORT: '0',
    EMAIL_OUTBOX_DIR: options.outboxDir,
  });
  const transport = createOutboxTransport({ dir: config.emailOutboxDir });
  const handlers = createEmailHandlers({
    transport,
    from: config.emailFrom,
    brand: { appName: config.appName, appUrl: config.appUrl },
  });
  const worker = await runWorker({
    contract: emails,
    handlers: options.wrap ? options.wrap(handlers) : handlers,
    config,
    service: 'email-worker',
    logger: createLogger({ service: 'email-worker', level: 'silent' }),
    readiness: [transport.readiness],
    handleSignals: false,
    onClose: () => transport.close(),
  });
  await worker.worker.waitUntilReady();
  return worker;
}
