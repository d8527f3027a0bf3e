import { ConfigError, createLogger, handleShutdown, loadConfigOrExit } from '@jobfleet/service-kit';
import { buildGateway } from './app.js';
import { gatewayConfig } from './config.js';

const config = loadConfigOrExit(gatewayConfig);
const logger = createLogger({ service: 'gateway', level: config.logLevel });

const app = await buildGateway({ config, logger }).catch((error: unknown) => {
  if (!(error instanceof ConfigError)) throw error;
  process.stderr.write(`${error.message}\n`);
  process.exit(1);
});

handleShutdown({ logger, hardTimeoutMs: config.shutdownTimeoutMs, close: () => app.close() });

const address = await app.listen({ port: config.port, host: config.host });
logger.info({ url: address }, 'gateway listening');
