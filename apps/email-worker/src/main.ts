import { loadConfigOrExit } from '@jobfleet/service-kit';
import { emailWorkerConfig } from './config.js';
import { startEmailWorker } from './worker.js';

const config = loadConfigOrExit(emailWorkerConfig);
await startEmailWorker({ config, handleSignals: true });
