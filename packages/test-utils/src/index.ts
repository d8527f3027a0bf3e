export * from './free-port.js';
export * from './promtool.js';
export * from './redis-fixture.js';
export * from './redis-server.js';
export * from './worker-contract-suite.js';
