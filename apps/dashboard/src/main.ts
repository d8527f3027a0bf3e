import { ConfigError, createLogger, handleShutdown, loadConfigOrExit } from '@jobfleet/service-kit';
import { buildDashboard } from './app.js';
import { dashboardConfig } from './config.js';

const config = loadConfigOrExit(dashboardConfig);
const logger = createLogger({ service: 'dashboard', level: config.logLevel });

const app = await buildDashboard({ config, logger }).catch((error: unknown) => {
  if (!(error instanceof ConfigError)) throw error;
  process.stderr.write(`${error.message}\n`);
  process.exit(1);
});

handleShutdown({ logger, hardTimeoutMs: config.shutdownTimeoutMs, close: () => app.close() });

const address = await app.listen({ port: config.port, host: config.host });
logger.info({ url: address }, 'dashboard listening');
