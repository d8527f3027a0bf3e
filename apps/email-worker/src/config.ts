import { resolve } from 'node:path';
import { type ConfigOf, type EnvVar, env } from '@jobfleet/service-kit';
import { workerConfig } from '@jobfleet/worker-runtime';
import { type Mailbox, parseMailbox } from './mailbox.js';

const CONTROL = /\p{Cc}/u;

/** A directory, resolved against the working directory when relative. */
function directory(fallback: string): EnvVar<string> {
  return { parse: (raw) => resolve(raw), fallback: () => resolve(fallback) };
}

function mailbox(fallback: string): EnvVar<Mailbox> {
  return { parse: parseMailbox, fallback: () => parseMailbox(fallback) };
}

/** An optional absolute http(s) URL; `undefined` when unset. */
function optionalHttpUrl(): EnvVar<string | undefined> {
  const url = env.url({ protocols: ['http:', 'https:'] });
  return {
    parse(raw) {
      if (CONTROL.test(raw)) throw new Error('must not contain control characters');
      return url.parse(raw);
    },
    fallback: () => undefined,
  };
}

/**
 * The email worker's environment: the keys of every worker (`REDIS_URL`,
 * `METRICS_PORT` 9101, `WORKER_CONCURRENCY` 10, …) plus
 *
 * - `EMAIL_OUTBOX_DIR` (`.data/outbox`, resolved against the working directory):
 *   where the outbox transport writes one `.eml` file per message.
 * - `EMAIL_FROM` (`jobfleet <no-reply@jobfleet.local>`): the sender of every
 *   message; its domain ends every Message-ID.
 * - `EMAIL_SEND_DELAY_MS` (`0`): a pause before each delivery. It throttles a
 *   process (at most `WORKER_CONCURRENCY` messages per pause) and, with the
 *   outbox, mimics a mail server's latency in development, demos and shutdown
 *   drills. Cancelling a job cuts its pause short.
 * - `APP_NAME` (`jobfleet`): the product name in subjects, greetings and signatures.
 * - `APP_URL` (unset): the product's address, linked from the welcome e-mail;
 *   without it the welcome e-mail has no link.
 */
export const emailWorkerConfig = {
  ...workerConfig({ metricsPort: 9101, concurrency: 10 }),
  EMAIL_OUTBOX_DIR: directory('.data/outbox'),
  EMAIL_FROM: mailbox('jobfleet <no-reply@jobfleet.local>'),
  EMAIL_SEND_DELAY_MS: env.duration({ default: 0, max: 60_000 }),
  APP_NAME: env.string({ default: 'jobfleet', maxLength: 100, pattern: /^\P{Cc}+$/u }),
  APP_URL: optionalHttpUrl(),
};

export type EmailWorkerConfig = ConfigOf<typeof emailWorkerConfig>;
