import { reportStoreConfig } from '@jobfleet/report-store';
import {
  type ConfigOf,
  commonConfig,
  documented,
  type EnvVar,
  env,
  httpEdgeConfig,
  secretSetting,
} from '@jobfleet/service-kit';
import { parseApiKeys } from './api-keys.js';
import { DEFAULT_COUNT_WAIT_MS } from './rate-limit-store.js';

export { DEFAULT_HTTP_TIMEOUTS } from '@jobfleet/service-kit';

/** `GATEWAY_API_KEYS` (the key list as JSON) and `GATEWAY_API_KEYS_FILE` (a path to it); errors never echo a secret. */
const apiKeys = secretSetting(parseApiKeys, 'key file');

/** A number from 0 to 1. */
function fraction(options: { default: number; doc: string }): EnvVar<number> {
  return {
    doc: options.doc,
    defaultText: String(options.default),
    parse(raw) {
      const value = /^(0(\.\d+)?|1(\.0+)?)$/.test(raw) ? Number(raw) : Number.NaN;
      if (Number.isNaN(value)) throw new Error('must be a number from 0 to 1');
      return value;
    },
    fallback: () => options.default,
  };
}

/** `GATEWAY_WORKERS`: a process count, or `auto` for one per available core. */
const gatewayWorkers: EnvVar<number | 'auto'> = {
  doc: 'Gateway processes sharing the port (`node:cluster`): a number from 1 to 64, or `auto` for one per available core (the CPUs it may run on, capped by the CPU quota of its cgroup, such as a container CPU limit). With more than one, a primary process supervises them (replaces one that dies, shuts all down gracefully on SIGTERM) and `/metrics` sums over all of them.',
  defaultText: '1',
  example: 'auto',
  parse(raw) {
    if (raw === 'auto') return 'auto';
    const value = /^\d+$/.test(raw) ? Number(raw) : Number.NaN;
    if (!(value >= 1 && value <= 64)) throw new Error('must be a number from 1 to 64, or auto');
    return value;
  },
  fallback: () => 1,
};

/** 1 MiB: far above any job payload the contracts allow, small enough to bound memory per request. */
export const DEFAULT_BODY_LIMIT_BYTES = 1_048_576;

/** How long an `Idempotency-Key` is remembered: a day covers any sane client's retry horizon. */
export const DEFAULT_IDEMPOTENCY_TTL_MS = 86_400_000;

/**
 * The rate limit of a key that sets none: 100 requests per second. Generous for a
 * producer posting single jobs (a batch counts as one request), small enough
 * that one runaway client cannot flood Redis.
 */
export const DEFAULT_RATE_LIMIT = { max: 100, timeWindowMs: 1_000 } as const;

/**
 * How long a request's Redis command waits for its reply: a frozen Redis is answered within about a
 * second (a healthy one answers in well under a millisecond, a 1000-job batch in tens of them).
 */
export const DEFAULT_REDIS_COMMAND_TIMEOUT_MS = 750;

/**
 * The gateway's environment. The key list is parsed and checked here, at
 * start; that some key (or `GATEWAY_AUTH=disabled`) is configured is checked
 * by `buildGateway`, since it spans several variables.
 */
export const gatewayConfig = {
  ...commonConfig,
  // The report store's own reader, so the default and the checks match the report worker's. (Its
  // REPORT_RETENTION_DAYS is the worker's business — the gateway never trims — so it is not read here.)
  REPORTS_DIR: documented(reportStoreConfig.REPORTS_DIR, {
    doc: 'Where `GET /v1/reports/:jobId/file` reads rendered reports: the directory the report worker writes to (same machine or a shared volume), relative to the working directory.',
  }),
  PORT: env.integer({
    default: 3000,
    min: 0,
    max: 65_535,
    doc: 'The HTTP port (API, `/metrics`, `/health/*`).',
  }),
  GATEWAY_API_KEYS: documented(apiKeys.inline, {
    doc: 'The API keys, a JSON array (or `GATEWAY_API_KEYS_FILE`; set one, not both). Each entry has an `id`, a `key` (16+ printable characters) or `keySha256` (its hex SHA-256), `scopes` (e.g. `emails:enqueue`, `*:read`, `dead-letters:manage`, `admin`), and optionally a `tenant` (without one, the key sees every tenant), a `rateLimit` (`{ "max": 100, "timeWindowMs": 1000 }`) and a `webhookSecret` (`whsec_` + base64 of 24–64 bytes) that signs the completion webhooks of the key\'s jobs (the webhooks-worker reads the same list).',
    example:
      '[{"id":"<client>","keySha256":"<hex sha256 of the key>","tenant":"acme","scopes":["emails:enqueue","*:read"]}]',
  }),
  GATEWAY_API_KEYS_FILE: documented(apiKeys.file, {
    doc: 'A file holding the `GATEWAY_API_KEYS` JSON (a mounted secret), read once at start.',
    example: '/run/secrets/gateway-api-keys',
  }),
  GATEWAY_WORKERS: gatewayWorkers,
  WEBHOOK_ALLOW_PRIVATE_NETWORKS: env.boolean({
    default: false,
    doc: 'Accept `options.callback` URLs whose host is a private, loopback or link-local IP address (development and tests only). The webhooks-worker has the same key for the addresses a name resolves to.',
  }),
  GATEWAY_AUTH: env.oneOf(['enabled', 'disabled'], {
    default: 'enabled',
    doc: 'Without keys the gateway refuses to start unless this is `disabled` (development only: no authentication).',
  }),
  BODY_LIMIT_BYTES: env.integer({
    default: DEFAULT_BODY_LIMIT_BYTES,
    min: 1_024,
    max: 64 * 1_048_576,
    doc: 'Largest accepted request body, in bytes.',
  }),
  IDEMPOTENCY_TTL: env.duration({
    default: DEFAULT_IDEMPOTENCY_TTL_MS,
    min: 1_000,
    max: 30 * 86_400_000,
    doc: 'How long the answer to a request with an `Idempotency-Key` is replayed.',
  }),
  RATE_LIMIT_MAX: env.integer({
    default: DEFAULT_RATE_LIMIT.max,
    min: 1,
    max: 100_000_000,
    doc: 'Requests per `RATE_LIMIT_WINDOW_MS` of a key without its own `rateLimit`, counted in Redis (one budget per key across every gateway replica).',
  }),
  RATE_LIMIT_WINDOW_MS: env.duration({
    default: DEFAULT_RATE_LIMIT.timeWindowMs,
    min: 1,
    max: 86_400_000,
    doc: 'The window of `RATE_LIMIT_MAX`.',
  }),
  RATE_LIMIT_COUNT_WAIT_MS: env.duration({
    default: DEFAULT_COUNT_WAIT_MS,
    min: 1,
    max: 60_000,
    doc: 'How long a request waits for its rate-limit count when the local lease is spent (a refresh from Redis, well under a millisecond when Redis is healthy) before it is let through uncounted, so a slow Redis never holds requests back.',
  }),
  PRESSURE_MAX_EVENT_LOOP_DELAY_MS: env.duration({
    default: 1_000,
    max: 60_000,
    doc: 'Shed load (503 with `Retry-After`) while the event loop lags more than this on average; 0 turns the check off.',
  }),
  PRESSURE_MAX_EVENT_LOOP_UTILIZATION: fraction({
    default: 0,
    doc: 'Shed load while the event loop is busier than this fraction (0 to 1) of the time; 0 turns the check off.',
  }),
  PRESSURE_MAX_HEAP_USED_BYTES: env.integer({
    default: 0,
    min: 0,
    doc: 'Shed load while the V8 heap in use exceeds this many bytes; 0 turns the check off.',
  }),
  PRESSURE_SAMPLE_INTERVAL_MS: env.duration({
    default: 1_000,
    min: 10,
    max: 60_000,
    doc: 'How often the pressure figures are sampled.',
  }),
  ...httpEdgeConfig,
  REDIS_COMMAND_TIMEOUT_MS: env.duration({
    default: DEFAULT_REDIS_COMMAND_TIMEOUT_MS,
    min: 50,
    max: 60_000,
    doc: 'How long one Redis command of a request may wait for its reply. A read that times out answers 503 (`JOBFLEET_REDIS_UNAVAILABLE`); a write that was sent answers 504 (`JOBFLEET_OUTCOME_UNKNOWN`). Keep it under a second so a frozen Redis is answered within one.',
  }),
  REDIS_MIN_REPLICAS_ACK: env.integer({
    default: 0,
    min: 0,
    max: 16,
    doc: 'Enqueue and redrive answer 2xx only once Redis `WAIT` confirms that this many replicas have the job; otherwise 503 `JOBFLEET_REPLICATION_UNCONFIRMED` (the job may have been written: retry with the same `Idempotency-Key`). 0 turns it off. Not with `REDIS_CLUSTER_NODES`.',
  }),
  REDIS_MIN_REPLICAS_ACK_TIMEOUT_MS: env.duration({
    default: 500,
    min: 1,
    max: 3_000,
    doc: "How long one `WAIT` for `REDIS_MIN_REPLICAS_ACK` replicas may take. It blocks the gateway's Redis connection meanwhile, so keep it short.",
  }),
  QUEUE_METRICS_CACHE_MS: env.duration({
    default: 5_000,
    max: 300_000,
    doc: 'How long the queue gauges of one `/metrics` scrape (`jobfleet_queue_jobs`, `jobfleet_queue_oldest_waiting_seconds`) are reused by the next ones.',
  }),
};

export type GatewayConfig = ConfigOf<typeof gatewayConfig>;

/** Every key the gateway reads: what `pnpm docs:config` documents. */
export const configSpec = gatewayConfig;
