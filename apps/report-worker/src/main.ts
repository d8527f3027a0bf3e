import { exitOnConfigError, loadConfigOrExit } from '@jobfleet/service-kit';
import { reportWorkerConfig } from './config.js';
import { startReportWorker } from './worker.js';

const config = loadConfigOrExit(reportWorkerConfig);
// A bad OTEL_* key is found while starting: one message, exit 1, like the keys above.
await startReportWorker({ config, handleSignals: true }).catch(exitOnConfigError);
