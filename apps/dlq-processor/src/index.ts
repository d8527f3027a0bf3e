export * from './alert-delivery.js';
export * from './config.js';
export * from './indexer.js';
export * from './intake.js';
export * from './metrics.js';
export * from './periodic.js';
export * from './processor.js';
export * from './spike-alerts.js';
