import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { reports } from '@jobfleet/queue-contracts';
import { createLogger, loadConfig } from '@jobfleet/service-kit';
import { type LogLine, logSink } from '@jobfleet/test-utils';
import type { HandlerMap } from '@jobfleet/worker-runtime';
import { reportWorkerConfig } from '../src/config.js';
import { type ReportWorker, startReportWorker } from '../src/worker.js';
import { DIST_SANDBOX } from './worker-process.js';

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

export type { LogLine } from '@jobfleet/test-utils';

export interface InProcessWorker extends ReportWorker {
  readonly logs: LogLine[];
  readonly reportsDir: string;
}

/** The report worker as main.ts builds it, in-process: no signal handlers, metrics on a free port, logs kept. */
export async function startInProcessWorker(options: InProcessWorkerOptions): Promise<InProcessWorker> {
  const ownDir = options.reportsDir ? undefined : mkdtempSync(join(tmpdir(), 'report-worker-'));
  const reportsDir = options.reportsDir ?? ownDir ?? '';
  const config = loadConfig(reportWorkerConfig, {
    REDIS_URL: options.redisUrl,
    JOBFLEET_PREFIX: options.prefix,
    HOST: '127.0.0.1',
    METRICS_PORT: '0',
    REPORTS_DIR: reportsDir,
    GATEWAY_PUBLIC_URL: 'https://jobs.example.com',
    ...options.env,
  });
  const { destination, lines: logs } = logSink();
  const worker = await startReportWorker({
    config,
    logger: createLogger({ service: 'report-worker', level: 'info', destination }),
    handleSignals: false,
    wrap: options.wrap,
    sandboxModule: options.sandboxModule ?? DIST_SANDBOX,
  });
  await worker.worker.waitUntilReady();
  return {
    ...worker,
    logs,
    reportsDir,
    async close() {
      const finished = await worker.close();
      if (ownDir) rmSync(ownDir, { recursive: true, force: true });
      return finished;
    },
  };
}
