import { loadConfigOrExit } from '@jobfleet/service-kit';
import { reportWorkerConfig } from './config.js';
import { startReportWorker } from './worker.js';

const config = loadConfigOrExit(reportWorkerConfig);
await startReportWorker({ config, handleSignals: true });
