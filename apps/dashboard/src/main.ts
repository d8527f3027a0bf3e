import { createLogger, exitOnConfigError, handleShutdown, loadConfigOrExit } from '@jobfleet/service-kit';
import { buildDashboard } from './app.js';
import { dashboardConfig } from './config.js';

const config = loadConfigOrExit(dashboardConfig);
const logger = createLogger({ service: 'dashboard', level: config.logLevel });

const app = await buildDashboard({ config, logger }).catch(exitOnConfigError);

handleShutdown({ logger, hardTimeoutMs: config.shutdownTimeoutMs, close: () => app.close() });

const address = await app.listen({ port: config.port, host: config.host });
logger.info({ url: address }, 'dashboard listening');
