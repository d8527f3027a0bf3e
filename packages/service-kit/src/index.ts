export * from './common-config.js';
export * from './config.js';
export * from './health.js';
export * from './logger.js';
export * from './metrics.js';
export * from './observability-plugin.js';
export * from './redis.js';
export * from './shutdown.js';
