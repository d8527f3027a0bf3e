import { loadConfigOrExit } from '@jobfleet/service-kit';
import { dlqProcessorConfig } from './config.js';
import { startDlqProcessor } from './processor.js';

const config = loadConfigOrExit(dlqProcessorConfig);
await startDlqProcessor({ config, handleSignals: true });
