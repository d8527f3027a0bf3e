import cluster from 'node:cluster';
import {
  createLogger,
  createMetricsRegistry,
  exitOnConfigError,
  handleShutdown,
  loadConfigOrExit,
  startTracing,
  turnBufferedOutput,
} from '@jobfleet/service-kit';
import { buildGateway } from './app.js';
import { availableCores } from './available-cores.js';
import { joinCluster, runPrimary } from './cluster.js';
import { gatewayConfig } from './config.js';

const config = loadConfigOrExit(gatewayConfig);
const auto = config.gatewayWorkers === 'auto' ? availableCores() : undefined;
const workers = typeof config.gatewayWorkers === 'number' ? config.gatewayWorkers : (auto?.cores ?? 1);
const logger = createLogger({
  service: 'gateway',
  level: config.logLevel,
  // Several processes (GATEWAY_WORKERS) share standard output: each write then holds whole lines
  // and at most PIPE_BUF bytes, which a pipe takes atomically, so their lines never interleave.
  destination: turnBufferedOutput(workers > 1 ? { maxWrite: 4_096 } : {}),
});

// What `auto` came to, and from what: a container's CPU limit is easily overlooked.
if (auto && cluster.isPrimary)
  logger.info(
    { workers, cpus: auto.cpus, cpu_quota: auto.quota ?? null },
    'GATEWAY_WORKERS=auto: one process per available core',
  );

if (workers > 1 && cluster.isPrimary)
  runPrimary({ workers, logger, shutdownTimeoutMs: config.shutdownTimeoutMs });
else await serve();

/** One gateway process: on its own, or one of the workers of a `GATEWAY_WORKERS` cluster. */
async function serve(): Promise<void> {
  // A cluster worker's lines say which worker wrote them.
  const log = cluster.isWorker ? logger.child({ worker: cluster.worker?.id }) : logger;
  // Before the app is built: @fastify/otel instruments Fastify instances as they are created, and the
  // queues take BullMQ's telemetry. A no-op unless OTEL_EXPORTER_OTLP_ENDPOINT is set.
  const tracing = await startTracing({ serviceName: 'gateway', instrumentFastify: true, logger: log }).catch(
    exitOnConfigError,
  );
  const registry = createMetricsRegistry();
  // In a cluster the primary says when to stop; until the app exists, the request waits.
  let stop = () => {
    stopRequested = true;
  };
  let stopRequested = false;
  const member = cluster.isWorker
    ? joinCluster(registry, {
        onShutdown: () => stop(),
        onQueueGauges: () => log.info({ pid: process.pid }, 'this worker reads the queue gauges'),
      })
    : undefined;
  const app = await buildGateway({
    config,
    logger: log,
    registry,
    metricsSource: member?.metricsSource,
    readsQueueGauges: member?.readsQueueGauges,
  }).catch(exitOnConfigError);

  const shutdown = handleShutdown({
    logger: log,
    hardTimeoutMs: config.shutdownTimeoutMs,
    close: async () => {
      await app.close();
      // After the app: the spans of the last requests are exported before the process ends.
      await tracing.shutdown();
    },
  });
  stop = shutdown.close;
  if (stopRequested) {
    stop();
    return;
  }

  const address = await app.listen({ port: config.port, host: config.host });
  log.info({ url: address }, 'gateway listening');
  logger.flush();
}
