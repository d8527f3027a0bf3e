export * from './dev-key.js';
export * from './fleet.js';
export * from './redis.js';
export * from './services.js';
