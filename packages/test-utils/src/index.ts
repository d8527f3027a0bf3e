export * from './free-port.js';
export * from './log-sink.js';
export * from './otlp-receiver.js';
export * from './promtool.js';
export * from './redis-fixture.js';
export * from './redis-server.js';
export * from './service-process.js';
export * from './worker-contract-suite.js';
