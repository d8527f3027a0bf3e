export * from './config.js';
export * from './handlers.js';
export * from './mailbox.js';
export * from './message-id.js';
export * from './outbox.js';
export * from './templates/index.js';
export * from './transport.js';
