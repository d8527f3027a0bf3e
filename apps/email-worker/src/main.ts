import { emails } from '@jobfleet/queue-contracts';
import { loadConfigOrExit } from '@jobfleet/service-kit';
import { runWorker } from '@jobfleet/worker-runtime';
import { emailWorkerConfig } from './config.js';
import { createEmailHandlers } from './handlers.js';
import { createOutboxTransport } from './outbox.js';

const config = loadConfigOrExit(emailWorkerConfig);
const transport = createOutboxTransport({ dir: config.emailOutboxDir });
const handlers = createEmailHandlers({
  transport,
  from: config.emailFrom,
  brand: { appName: config.appName, appUrl: config.appUrl },
  sendDelayMs: config.emailSendDelayMs,
});

const worker = await runWorker({
  contract: emails,
  handlers,
  config,
  service: 'email-worker',
  readiness: [transport.readiness],
  onClose: () => transport.close(),
});
worker.logger.info({ outbox: transport.dir }, 'delivering e-mail to the outbox');
