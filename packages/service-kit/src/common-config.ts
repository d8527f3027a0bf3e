import { env } from './config.js';

/** Keys every jobfleet process reads. */
export const commonConfig = {
  REDIS_URL: env.url({
    default: 'redis://127.0.0.1:6379',
    protocols: ['redis:', 'rediss:'],
    secret: true,
    doc: 'The Redis every queue lives in: `rediss://` for TLS; credentials in the URL.',
  }),
  JOBFLEET_PREFIX: env.string({
    default: 'jobfleet',
    pattern: /^[A-Za-z0-9_{}-]+$/,
    maxLength: 64,
    doc: 'Prefix of every Redis key; `{jobfleet}` on Redis Cluster.',
  }),
  HOST: env.string({ default: '0.0.0.0', doc: 'The address the HTTP server (or `/metrics`) listens on.' }),
  LOG_LEVEL: env.oneOf(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], {
    default: 'info',
    doc: '`fatal`, `error`, `warn`, `info`, `debug`, `trace` or `silent`.',
  }),
  SHUTDOWN_TIMEOUT_MS: env.duration({
    default: 30_000,
    max: 3_600_000,
    doc: 'How long in-flight work may finish after SIGTERM before the process ends anyway.',
  }),
  METRICS_TOKEN: env.optionalString({
    secret: true,
    doc: 'When set, `/metrics` wants `Authorization: Bearer <token>`.',
    example: '<token>',
  }),
};
