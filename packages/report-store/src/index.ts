export * from './config.js';
export * from './errors.js';
export * from './filesystem-store.js';
export * from './formats.js';
export * from './http-headers.js';
export * from './report-key.js';
export * from './report-store.js';
