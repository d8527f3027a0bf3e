import { exitOnConfigError, loadConfigOrExit } from '@jobfleet/service-kit';
import { emailWorkerConfig } from './config.js';
import { startEmailWorker } from './worker.js';

const config = loadConfigOrExit(emailWorkerConfig);
// A bad OTEL_* key is found while starting: one message, exit 1, like the keys above.
await startEmailWorker({ config, handleSignals: true }).catch(exitOnConfigError);
