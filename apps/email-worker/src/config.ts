import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { type ConfigOf, documented, type EnvVar, env } from '@jobfleet/service-kit';
import { type Mailbox, parseMailbox } from './mailbox.js';
import { parseSmtpUrl, type SmtpEndpoint } from './smtp-endpoint.js';

const CONTROL = /\p{Cc}/u;

/** A directory, resolved against the working directory when relative. */
function directory(fallback: string): EnvVar<string> {
  return { parse: (raw) => resolve(raw), fallback: () => resolve(fallback), defaultText: fallback };
}

function mailbox(fallback: string): EnvVar<Mailbox> {
  return { parse: parseMailbox, fallback: () => parseMailbox(fallback), defaultText: fallback };
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

/** `SMTP_URL`: unset means the file outbox. A secret: it may carry a password. */
function optionalSmtpUrl(): EnvVar<SmtpEndpoint | undefined> {
  return { secret: true, parse: parseSmtpUrl, fallback: () => undefined };
}

/** A PEM file of CA certificates, read at start so a bad path stops the process with the other bad keys. */
function optionalPemFile(): EnvVar<string | undefined> {
  return {
    parse(raw) {
      let pem: string;
      try {
        pem = readFileSync(resolve(raw), 'utf8');
      } catch (error) {
        throw new Error(`cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
      }
      if (!pem.includes('-----BEGIN CERTIFICATE-----')) throw new Error('must be a PEM file of certificates');
      return pem;
    },
    fallback: () => undefined,
  };
}

/**
 * Jobs in flight per SMTP connection when `WORKER_CONCURRENCY` is unset (see
 * `worker.ts`). Each
 * job spends part of its time on Redis (the ledger, BullMQ's fetch and
 * completion); with eight jobs per connection, messages are always queued for
 * the pool, so no connection waits for work (`pnpm bench` measured 2, 4, 6, 8
 * and 12: 8 was best).
 */
export const JOBS_PER_SMTP_CONNECTION = 8;

/** Messages per second, a positive number; unset or 0 means no limit. */
function optionalRate(): EnvVar<number | undefined> {
  return {
    parse(raw) {
      const value = /^\d+(\.\d+)?$/.test(raw) ? Number(raw) : Number.NaN;
      if (!Number.isFinite(value) || value > 100_000) {
        throw new Error('must be messages per second, a number from 0 (no limit) to 100000');
      }
      if (value > 0 && value < 0.001) throw new Error('must be at least 0.001 messages per second');
      return value === 0 ? undefined : value;
    },
    fallback: () => undefined,
  };
}

/** An optional single-line string without spaces (a host name). */
function optionalHostName(): EnvVar<string | undefined> {
  return {
    parse(raw) {
      if (!/^[A-Za-z0-9.[\]:-]{1,253}$/.test(raw))
        throw new Error('must be a host name or an address literal');
      return raw;
    },
    fallback: () => undefined,
  };
}

/**
 * The email worker's own environment keys; `defineWorker` adds those of every
 * worker (`REDIS_URL`, `METRICS_PORT` 9101, `WORKER_CONCURRENCY`, …). The
 * README lists them with their defaults.
 *
 * Transport: with `SMTP_URL` set, messages go over SMTP through a connection
 * pool; without it, to the file outbox in `EMAIL_OUTBOX_DIR`.
 */
export const emailConfig = {
  EMAIL_OUTBOX_DIR: documented(directory('.data/outbox'), {
    doc: 'Where the file outbox writes one `.eml` file per message (without `SMTP_URL`), relative to the working directory.',
  }),
  EMAIL_FROM: documented(mailbox('jobfleet <no-reply@jobfleet.local>'), {
    doc: 'The sender of every message, one mailbox; its domain ends every Message-ID.',
  }),
  EMAIL_SEND_DELAY_MS: env.duration({
    default: 0,
    max: 60_000,
    doc: 'A pause before each delivery (a per-process throttle, or simulated latency); cancelling cuts it short.',
  }),
  EMAIL_RATE_LIMIT: documented(optionalRate(), {
    doc: "Messages per second across every email-worker replica (BullMQ's limiter, kept in Redis); unset or 0: no limit.",
    example: '50',
  }),
  SMTP_URL: documented(optionalSmtpUrl(), {
    doc: '`smtp://user:password@host:port` or `smtps://…` (percent-encode `@ : /` in credentials); unset: the file outbox in `EMAIL_OUTBOX_DIR`.',
    example: 'smtp://<user>:<password>@smtp.example.com:587',
  }),
  SMTP_STARTTLS: env.oneOf(['auto', 'required', 'off'], {
    default: 'auto',
    doc: '`smtp://` only. `auto`: upgrade when offered; `required`: refuse to send in clear text; `off`: never upgrade.',
  }),
  SMTP_TLS_REJECT_UNAUTHORIZED: env.boolean({
    default: true,
    doc: "Verify the server's certificate (TLS and STARTTLS).",
  }),
  SMTP_TLS_CA_FILE: documented(optionalPemFile(), {
    doc: 'Extra CA certificates (a PEM file) to trust, e.g. a private CA.',
    example: '/etc/ssl/private-ca.pem',
  }),
  SMTP_EHLO_NAME: documented(optionalHostName(), {
    doc: "The name the worker gives in EHLO. Unset: the machine's host name when it has a dot (a fully qualified name), else `[127.0.0.1]` (nodemailer's choice).",
    example: 'worker.example.com',
  }),
  SMTP_MAX_CONNECTIONS: env.integer({
    default: 5,
    min: 1,
    max: 100,
    doc: 'Open connections in the pool, per process.',
  }),
  SMTP_MAX_MESSAGES: env.integer({
    default: 100,
    min: 1,
    max: 100_000,
    doc: 'Messages one connection sends before it is replaced by a new one.',
  }),
  SMTP_CONNECTION_TIMEOUT_MS: env.duration({
    default: 10_000,
    min: 10,
    max: 600_000,
    doc: 'Time to establish the TCP (and, with `smtps://`, TLS) connection.',
  }),
  SMTP_GREETING_TIMEOUT_MS: env.duration({
    default: 10_000,
    min: 10,
    max: 600_000,
    doc: "Time for the server's greeting once connected.",
  }),
  SMTP_SOCKET_TIMEOUT_MS: env.duration({
    default: 60_000,
    min: 10,
    max: 3_600_000,
    doc: 'Longest silence of the server at any point, including the reply after the message itself.',
  }),
  APP_NAME: env.string({
    default: 'jobfleet',
    maxLength: 100,
    pattern: /^\P{Cc}+$/u,
    doc: 'The product name in subjects, greetings and signatures.',
  }),
  APP_URL: documented(optionalHttpUrl(), {
    doc: "The product's address, linked from the welcome e-mail; no link when unset.",
    example: 'https://app.example.com',
  }),
};

/** The email worker's own keys, loaded. */
export type EmailConfig = ConfigOf<typeof emailConfig>;
