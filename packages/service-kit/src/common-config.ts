import { env } from './config.js';

/** Keys every jobfleet process reads. */
export const commonConfig = {
  REDIS_URL: env.url({ default: 'redis://127.0.0.1:6379', protocols: ['redis:', 'rediss:'], secret: true }),
  JOBFLEET_PREFIX: env.string({ default: 'jobfleet', pattern: /^[A-Za-z0-9_{}-]+$/, maxLength: 64 }),
  HOST: env.string({ default: '0.0.0.0' }),
  LOG_LEVEL: env.oneOf(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], { default: 'info' }),
  SHUTDOWN_TIMEOUT_MS: env.duration({ default: 30_000, max: 3_600_000 }),
  METRICS_TOKEN: env.optionalString({ secret: true }),
};
