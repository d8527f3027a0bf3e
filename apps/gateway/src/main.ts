import {
  createLogger,
  exitOnConfigError,
  handleShutdown,
  loadConfigOrExit,
  startTracing,
} from '@jobfleet/service-kit';
import { pino } from 'pino';
import { buildGateway } from './app.js';
import { gatewayConfig } from './config.js';

const config = loadConfigOrExit(gatewayConfig);
// Buffered standard output: lines are written 4 KiB at a time (and at least every
// LOG_FLUSH_MS), not with one write per line on the request path. Flushed on exit.
const LOG_FLUSH_MS = 1_000;
const logger = createLogger({
  service: 'gateway',
  level: config.logLevel,
  // A pino destination is all createLogger needs; its type asks for a full Node stream.
  destination: pino.destination({
    dest: 1,
    sync: false,
    minLength: 4_096,
  }) as unknown as NodeJS.WritableStream,
});
setInterval(() => logger.flush(), LOG_FLUSH_MS).unref();

// Before the app is built: @fastify/otel instruments Fastify instances as they are created, and the
// queues take BullMQ's telemetry. A no-op unless OTEL_EXPORTER_OTLP_ENDPOINT is set.
const tracing = await startTracing({ serviceName: 'gateway', instrumentFastify: true, logger }).catch(
  exitOnConfigError,
);
const app = await buildGateway({ config, logger }).catch(exitOnConfigError);

handleShutdown({
  logger,
  hardTimeoutMs: config.shutdownTimeoutMs,
  close: async () => {
    await app.close();
    // After the app: the spans of the last requests are exported before the process ends.
    await tracing.shutdown();
  },
});

const address = await app.listen({ port: config.port, host: config.host });
logger.info({ url: address }, 'gateway listening');
logger.flush();
