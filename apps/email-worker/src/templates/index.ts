export * from './html.js';
export * from './layout.js';
export * from './notification.js';
export * from './password-reset.js';
export * from './sanitize.js';
export * from './text.js';
export * from './types.js';
export * from './welcome.js';
