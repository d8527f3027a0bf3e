export * from './cancel-listener.js';
export * from './config.js';
export * from './define-worker.js';
export * from './errors.js';
export * from './handlers.js';
export * from './metrics.js';
export * from './runtime.js';
export * from './usage-ledger.js';
