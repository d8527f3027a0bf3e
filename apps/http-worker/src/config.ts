import { findQueue, type QueueContract } from '@jobfleet/queue-contracts';
import {
  type ConfigCheck,
  type ConfigOf,
  camelCase,
  commonConfig,
  configChecks,
  documented,
  type EnvVar,
  env,
  parseWebhookSecret,
  secretSetting,
  withChecks,
} from '@jobfleet/service-kit';

const CONTROL = /\p{Cc}/u;

/**
 * `HTTP_WORKER_QUEUES`: catalog queues, comma-separated, each once. Unset
 * loads as `undefined`, so that the documented defaults load; the process
 * refuses to start without it (see `worker.ts`).
 */
function queueList(): EnvVar<readonly QueueContract[] | undefined> {
  return {
    fallback: () => undefined,
    parse(raw) {
      const names = raw
        .split(',')
        .map((name) => name.trim())
        .filter(Boolean);
      if (names.length === 0) throw new Error('must name at least one queue');
      const unknown = names.filter((name) => !findQueue(name));
      if (unknown.length > 0) {
        throw new Error(`names no queue of the catalog: ${unknown.map((n) => `"${n}"`).join(', ')}`);
      }
      const twice = names.find((name, i) => names.indexOf(name) !== i);
      if (twice) throw new Error(`lists "${twice}" twice`);
      return names.map((name) => findQueue(name) as QueueContract);
    },
  };
}

/** An optional absolute http(s) URL; `undefined` when unset. */
function optionalEndpoint(doc: string, example?: string): EnvVar<string | undefined> {
  const url = env.url({ protocols: ['http:', 'https:'] });
  return {
    parse(raw) {
      if (CONTROL.test(raw)) throw new Error('must not contain control characters');
      return new URL(url.parse(raw)).href;
    },
    fallback: () => undefined,
    doc,
    ...(example === undefined ? {} : { example }),
  };
}

/**
 * A queue's own endpoint key: `HTTP_WORKER_URL_` and the queue name
 * upper-cased, `-` as `_` (`daily-exports` → `HTTP_WORKER_URL_DAILY_EXPORTS`),
 * as for `WORKER_CONCURRENCY_<QUEUE>`.
 */
export function queueUrlKey(queue: string): string {
  return `HTTP_WORKER_URL_${queue.toUpperCase().replaceAll('-', '_')}`;
}

const queuesOf = (raw: string | undefined): string[] =>
  (raw ?? '')
    .split(',')
    .map((name) => name.trim())
    .filter(Boolean);

const secret = secretSetting(parseWebhookSecret, 'secret file');

// A spec carries one list of cross-key checks, and spreading specs together keeps the last one:
// this spec, spread after the common keys, carries theirs too.
const commonChecks = (commonConfig as { [configChecks]?: readonly ConfigCheck[] })[configChecks] ?? [];

/**
 * The http-worker's own keys (beside those of every worker). A queue's
 * endpoint is `HTTP_WORKER_URL_<QUEUE>` when set, else `HTTP_WORKER_URL`; the
 * per-queue keys are read for the queues `HTTP_WORKER_QUEUES` names (see
 * {@link queueUrlSpec}).
 */
export const httpWorkerConfig = withChecks(
  {
    HTTP_WORKER_QUEUES: documented(queueList(), {
      doc: 'The catalog queues this process works, comma-separated: each job is POSTed to its endpoint. Required: the http-worker does not start without it (`pnpm start` leaves it off). `WORKER_CONCURRENCY` sizes the first queue, `WORKER_CONCURRENCY_<QUEUE>` each further one.',
      example: 'emails',
    }),
    HTTP_WORKER_URL: optionalEndpoint(
      "The endpoint every queue's jobs are POSTed to; `HTTP_WORKER_URL_<QUEUE>` (e.g. `HTTP_WORKER_URL_EMAILS`) overrides it for one queue. Redirects are not followed.",
      'http://127.0.0.1:8000/jobs',
    ),
    HTTP_WORKER_SECRET: documented(secret.inline, {
      doc: 'The Standard Webhooks secret (`whsec_` + base64 of 24–64 bytes) that signs every request (`webhook-id`, `webhook-timestamp`, `webhook-signature`); unset: requests go unsigned, with a warning at start.',
      example: 'whsec_<base64>',
    }),
    HTTP_WORKER_SECRET_FILE: documented(secret.file, {
      doc: 'A file holding `HTTP_WORKER_SECRET` (a mounted secret); read once at start.',
      example: '/run/secrets/http-worker-secret',
    }),
    HTTP_WORKER_TIMEOUT_MS: env.duration({
      default: 60_000,
      min: 100,
      max: 3_600_000,
      doc: 'Longest wait for an answer, body included; a request that takes longer is aborted and the job retried.',
    }),
    HTTP_WORKER_MAX_RESULT_BYTES: env.integer({
      default: 1_048_576,
      min: 1_024,
      max: 64 * 1_048_576,
      doc: 'Largest answer body accepted as a result (it is stored in Redis); a larger one fails the job for good.',
    }),
  },
  [
    ...commonChecks,
    (raw) =>
      raw.HTTP_WORKER_SECRET?.trim() && raw.HTTP_WORKER_SECRET_FILE?.trim()
        ? ['HTTP_WORKER_SECRET and HTTP_WORKER_SECRET_FILE: set one of them, not both']
        : [],
    (raw) => {
      if (raw.HTTP_WORKER_URL?.trim()) return [];
      const missing = queuesOf(raw.HTTP_WORKER_QUEUES).filter(
        (queue) => findQueue(queue) && !raw[queueUrlKey(queue)]?.trim(),
      );
      return missing.length === 0
        ? []
        : [`HTTP_WORKER_URL: is required (no ${missing.map(queueUrlKey).join(', ')} is set)`];
    },
  ],
);

/** The per-queue endpoint keys of `queues`, to be loaded beside {@link httpWorkerConfig}. */
export function queueUrlSpec(queues: readonly QueueContract[]): Record<string, EnvVar<string | undefined>> {
  return Object.fromEntries(
    queues.map((contract) => [
      queueUrlKey(contract.name),
      optionalEndpoint(
        `The endpoint of the \`${contract.name}\` queue's jobs, instead of \`HTTP_WORKER_URL\`.`,
      ),
    ]),
  );
}

/** The http-worker's own keys, loaded. */
export type HttpWorkerConfig = ConfigOf<typeof httpWorkerConfig>;

/** The endpoint of `queue`'s jobs under a loaded configuration (which the checks above make total). */
export function endpointOf(config: HttpWorkerConfig, queue: string): string {
  const own = (config as unknown as Record<string, string | undefined>)[camelCase(queueUrlKey(queue))];
  const url = own ?? config.httpWorkerUrl;
  if (!url) throw new Error(`no endpoint for the "${queue}" queue`);
  return url;
}

/** The signing secret, from whichever of the two keys is set. */
export const secretOf = (config: HttpWorkerConfig): string | undefined =>
  config.httpWorkerSecret ?? config.httpWorkerSecretFile;
