import { type Logger, type LoggerOptions, pino } from 'pino';

export type { Logger } from 'pino';

/** Paths whose values never reach a log line. */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["idempotency-key"]',
  'res.headers["set-cookie"]',
  '*.password',
  '*.passwordHash',
  '*.key',
  '*.keySha256',
  '*.secret',
  '*.token',
  'config.redisUrl',
  'config.smtpUrl',
];

export interface LoggerConfig {
  service: string;
  level?: LoggerOptions['level'];
  /** Where lines go; standard output when omitted. */
  destination?: NodeJS.WritableStream;
}

/** A pino JSON logger, one line per event, with secrets redacted. */
export function createLogger({ service, level = 'info', destination }: LoggerConfig): Logger {
  const options: LoggerOptions = {
    level,
    base: { service },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
  };
  return destination ? pino(options, destination) : pino(options);
}
