export * from './enqueue.js';
export * from './job-status.js';
export * from './options.js';
