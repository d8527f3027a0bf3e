import { exitOnConfigError, loadConfigOrExit } from '@jobfleet/service-kit';
import { dlqProcessorConfig } from './config.js';
import { startDlqProcessor } from './processor.js';

const config = loadConfigOrExit(dlqProcessorConfig);
// A bad OTEL_* key is found while starting: one message, exit 1, like the keys above.
await startDlqProcessor({ config, handleSignals: true }).catch(exitOnConfigError);
