export * from './catalog.js';
export * from './contract.js';
export * from './dead-letters.js';
export * from './emails.js';
export * from './formats.js';
export * from './primitives.js';
export * from './reports.js';
export * from './validation.js';
