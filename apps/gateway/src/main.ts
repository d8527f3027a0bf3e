import { ConfigError, createLogger, handleShutdown, loadConfigOrExit } from '@jobfleet/service-kit';
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

const app = await buildGateway({ config, logger }).catch((error: unknown) => {
  if (!(error instanceof ConfigError)) throw error;
  process.stderr.write(`${error.message}\n`);
  process.exit(1);
});

handleShutdown({ logger, hardTimeoutMs: config.shutdownTimeoutMs, close: () => app.close() });

const address = await app.listen({ port: config.port, host: config.host });
logger.info({ url: address }, 'gateway listening');
logger.flush();
