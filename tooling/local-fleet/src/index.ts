export * from './banner.js';
export * from './dev-key.js';
export * from './fleet.js';
export * from './manifest.js';
export * from './redis.js';
export * from './restart-policy.js';
export * from './services.js';
