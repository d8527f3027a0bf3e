/**
 * What other workspaces use of the email worker: `tooling/bench` measures its
 * delivery path (handlers, ledger, SMTP transport) in-process against
 * nodemailer alone. The worker itself is `worker.ts`, run by `main.ts`.
 */
export { JOBS_PER_SMTP_CONNECTION } from './config.js';
export { createRedisDeliveryLedger } from './delivery-ledger.js';
export { createEmailHandlers } from './handlers.js';
export { domainOf, parseMailbox } from './mailbox.js';
export { messageIdFor } from './message-id.js';
export { emailMetrics } from './metrics.js';
export { createSmtpTransport } from './smtp-transport.js';
export { renderWelcome } from './templates/index.js';
