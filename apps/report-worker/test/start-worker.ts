import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { reports } from '@jobfleet/queue-contracts';
import { createLogger } from '@jobfleet/service-kit';
import { type LogLine, logSink } from '@jobfleet/test-utils';
import type { HandlerMap } from '@jobfleet/worker-runtime';
import { createReportResources, worker } from '../src/worker.js';

/** The real sandbox, as built (the build-setup global setup keeps it current): worker threads run plain JavaScript. */
export const DIST_SANDBOX = new URL('../dist/render/sandbox-entry.js', import.meta.url);

export interface InProcessWorkerOptions {
  redisUrl: string;
  prefix: string;
  /** Defaults to a fresh temporary directory, removed on close. */
  reportsDir?: string;
  env?: Record<string, string>;
  wrap?: (handlers: HandlerMap<typeof reports>) => HandlerMap<typeof reports>;
  /** Defaults to the built sandbox; tests pass a fixture that hangs or dawdles. */
  sandboxModule?: URL;
}

export type InProcessWorker = Awaited<ReturnType<typeof worker.start>> & {
  readonly logs: LogLine[];
  readonly reportsDir: string;
};

/** The report worker's `start()` with the built (or a fixture) sandbox, its log lines kept. */
export async function startInProcessWorker(options: InProcessWorkerOptions): Promise<InProcessWorker> {
  const ownDir = options.reportsDir ? undefined : mkdtempSync(join(tmpdir(), 'report-worker-'));
  const reportsDir = options.reportsDir ?? ownDir ?? '';
  const { destination, lines: logs } = logSink();
  const sandboxModule = options.sandboxModule ?? DIST_SANDBOX;
  const running = await worker.start({
    env: {
      REDIS_URL: options.redisUrl,
      JOBFLEET_PREFIX: options.prefix,
      REPORTS_DIR: reportsDir,
      GATEWAY_PUBLIC_URL: 'https://jobs.example.com',
      ...options.env,
    },
    logger: createLogger({ service: 'report-worker', level: 'info', destination }),
    resources: (context) => createReportResources(context, { sandboxModule }),
    ...(options.wrap ? { wrap: options.wrap } : {}),
  });
  return {
    ...running,
    logs,
    reportsDir,
    async close() {
      const finished = await running.close();
      if (ownDir) rmSync(ownDir, { recursive: true, force: true });
      return finished;
    },
  };
}
