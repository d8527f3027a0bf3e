export * from './cancel.js';
export * from './enqueue.js';
export * from './enqueue-batch.js';
export * from './job-status.js';
export * from './options.js';
export * from './queues.js';
export * from './schedules.js';
