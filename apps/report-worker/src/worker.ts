import { reports } from '@jobfleet/queue-contracts';
import { createReportStore, type ReportStore } from '@jobfleet/report-store';
import { createLogger, createMetricsRegistry, type Logger } from '@jobfleet/service-kit';
import { type HandlerMap, type RunningWorker, readUsage, runWorker } from '@jobfleet/worker-runtime';
import type { ReportWorkerConfig } from './config.js';
import { createReportHandlers } from './handlers.js';
import { reportMetrics } from './metrics.js';
import { createReportNotifier, type ReportNotifier } from './notice.js';
import { createSandboxRenderer } from './render/sandbox.js';
import { type Retention, startRetention } from './retention.js';

export interface StartReportWorkerOptions {
  config: ReportWorkerConfig;
  /** Defaults to a pino logger at `LOG_LEVEL`. */
  logger?: Logger;
  /** Install SIGTERM/SIGINT handling (the entrypoint does; tests do not). */
  handleSignals?: boolean;
  /** Decorates the handlers (tests: the contract suite's `wrap`, crash simulations). */
  wrap?: (handlers: HandlerMap<typeof reports>) => HandlerMap<typeof reports>;
  /**
   * The sandbox's module, for tests (a render that hangs or dawdles). Code
   * only: no environment key reaches it, so it is no way into production.
   */
  sandboxModule?: URL;
}

export interface ReportWorker extends RunningWorker {
  readonly store: ReportStore;
  readonly retention: Retention;
}

/**
 * The report worker, assembled from its configuration: the report store, the
 * sandbox renderer, the notifier and the retention trim around the runtime.
 * `main.ts` calls it; tests call it in-process.
 */
export async function startReportWorker(options: StartReportWorkerOptions): Promise<ReportWorker> {
  const { config } = options;
  const logger =
    options.logger ?? createLogger({ service: 'report-worker', level: config.logLevel as 'info' });
  const registry = createMetricsRegistry();
  const metrics = reportMetrics(registry);
  const store = createReportStore(config);
  const renderer = createSandboxRenderer({
    timeoutMs: config.reportTimeoutMs,
    maxMemoryMb: config.reportSandboxMemoryMb,
    ...(options.sandboxModule ? { module: options.sandboxModule } : {}),
  });
  let notifier: ReportNotifier | undefined;
  let retention: Retention | undefined;

  let worker: RunningWorker;
  try {
    worker = await runWorker({
      contract: reports,
      config,
      service: 'report-worker',
      logger,
      registry,
      readiness: [{ name: 'report-store', check: () => store.check() }],
      handleSignals: options.handleSignals ?? false,
      handlers: ({ connection, prefix }) => {
        notifier = createReportNotifier({
          connection,
          prefix,
          gatewayPublicUrl: config.gatewayPublicUrl,
          retentionDays: config.reportRetentionDays,
        });
        const handlers = createReportHandlers({
          store,
          readUsage: (tenant, day) => readUsage(connection, prefix, tenant, day),
          renderer,
          notifier,
          metrics,
          timeZone: config.reportTimezone,
        });
        return options.wrap ? options.wrap(handlers) : handlers;
      },
      onClose: async () => {
        await retention?.stop();
        await notifier?.close();
      },
    });
  } catch (error) {
    // The metrics port was taken, say: the notifier's queue must not keep the process alive.
    await notifier?.close();
    throw error;
  }
  retention = startRetention({
    store,
    retentionDays: config.reportRetentionDays,
    intervalMs: config.reportTrimIntervalMs,
    logger,
    metrics,
  });
  logger.info(
    {
      store: store.kind,
      reports_dir: store.location,
      retention_days: config.reportRetentionDays,
      timeout_ms: config.reportTimeoutMs,
      time_zone: config.reportTimezone,
    },
    'rendering reports',
  );
  return { ...worker, store, retention };
}
