import { reports } from '@jobfleet/queue-contracts';
import { createReportStore } from '@jobfleet/report-store';
import { defineWorker, readUsage, type WorkerContext } from '@jobfleet/worker-runtime';
import { type ReportWorkerConfig, reportConfig } from './config.js';
import { createReportHandlers } from './handlers.js';
import { reportMetrics } from './metrics.js';
import { createReportNotifier } from './notice.js';
import { createSandboxRenderer } from './render/sandbox.js';
import { startRetention } from './retention.js';

/** Code-only options of the report worker's resources: no environment key reaches them. */
export interface ReportResourceOptions {
  /** The sandbox's module, for tests (a render that hangs or dawdles); default: the built one beside this file. */
  sandboxModule?: URL;
}

/**
 * What the report worker's handler shares: the report store, the sandbox
 * renderer, the notifier (on the worker's Redis connection) and the retention
 * trim, which starts here and stops with the resources, after the worker.
 */
export function createReportResources(
  context: WorkerContext<ReportWorkerConfig>,
  options: ReportResourceOptions = {},
) {
  const { config, connection, prefix, logger, registry } = context;
  const metrics = reportMetrics(registry);
  const store = createReportStore(config);
  const renderer = createSandboxRenderer({
    timeoutMs: config.reportTimeoutMs,
    maxMemoryMb: config.reportSandboxMemoryMb,
    ...(options.sandboxModule ? { module: options.sandboxModule } : {}),
  });
  const notifier = createReportNotifier({
    connection,
    prefix,
    gatewayPublicUrl: config.gatewayPublicUrl,
    retentionDays: config.reportRetentionDays,
  });
  const retention = startRetention({
    store,
    retentionDays: config.reportRetentionDays,
    intervalMs: config.reportTrimIntervalMs,
    logger,
    metrics,
  });
  return {
    metrics,
    store,
    renderer,
    notifier,
    retention,
    readiness: [{ name: 'report-store', check: () => store.check() }],
    async close() {
      await retention.stop();
      await notifier.close();
    },
  };
}

/** The report worker: the `reports` queue rendered in a sandbox into the report store. */
export const worker = defineWorker({
  service: 'report-worker',
  metricsPort: 9102,
  config: reportConfig,
  resources: (context) => createReportResources(context),
  queues: [
    {
      contract: reports,
      // One render per core on the 2-core machines jobfleet targets; rendering is CPU-bound.
      concurrency: 2,
      handlers: ({ config, connection, prefix, resources }) =>
        createReportHandlers({
          store: resources.store,
          readUsage: (tenant, day) => readUsage(connection, prefix, tenant, day),
          renderer: resources.renderer,
          notifier: resources.notifier,
          metrics: resources.metrics,
          timeZone: config.reportTimezone,
        }),
    },
  ],
  started: ({ config, logger, resources: { store } }) => {
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
  },
});
