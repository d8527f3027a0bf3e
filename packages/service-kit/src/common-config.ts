import { readFileSync } from 'node:fs';
import { type ConfigCheck, env, secretSetting, withChecks } from './config.js';

const redisPassword = secretSetting((text) => text.replace(/\r?\n$/, ''), 'password file');

const isSet = (environment: Readonly<Record<string, string | undefined>>, key: string) =>
  (environment[key]?.trim() ?? '') !== '';

/** The Redis keys that only make sense together (or apart); one line per bad combination. */
const redisTopologyCheck: ConfigCheck = (environment) => {
  const has = (key: string) => isSet(environment, key);
  const issues: string[] = [];
  const cluster = has('REDIS_CLUSTER_NODES');
  const sentinel = has('REDIS_SENTINELS');
  if (cluster && sentinel) {
    issues.push('REDIS_CLUSTER_NODES and REDIS_SENTINELS: set one Redis topology, not both');
  }
  if (has('REDIS_URL') && (cluster || sentinel)) {
    const other = cluster ? 'REDIS_CLUSTER_NODES' : 'REDIS_SENTINELS';
    issues.push(
      `REDIS_URL and ${other}: REDIS_URL is for a standalone Redis; unset it (give credentials in REDIS_USERNAME/REDIS_PASSWORD and TLS in REDIS_TLS)`,
    );
  }
  if (sentinel && !has('REDIS_SENTINEL_NAME')) {
    issues.push(
      'REDIS_SENTINEL_NAME: is required with REDIS_SENTINELS (the master name the sentinels monitor)',
    );
  }
  for (const key of ['REDIS_SENTINEL_NAME', 'REDIS_SENTINEL_PASSWORD']) {
    if (has(key) && !sentinel) issues.push(`${key}: only applies with REDIS_SENTINELS`);
  }
  if (has('REDIS_PASSWORD') && has('REDIS_PASSWORD_FILE')) {
    issues.push('REDIS_PASSWORD and REDIS_PASSWORD_FILE: set one, not both');
  }
  if (has('REDIS_URL') && (has('REDIS_PASSWORD') || has('REDIS_PASSWORD_FILE') || has('REDIS_USERNAME'))) {
    try {
      const url = new URL(environment.REDIS_URL?.trim() ?? '');
      if (url.username || url.password) {
        issues.push(
          'REDIS_URL and REDIS_USERNAME/REDIS_PASSWORD: give the credentials in one place, not both',
        );
      }
    } catch {
      // REDIS_URL's own reader reports a malformed URL.
    }
  }
  if (cluster && /[{}]/.test(environment.JOBFLEET_PREFIX ?? '')) {
    issues.push(
      'JOBFLEET_PREFIX and REDIS_CLUSTER_NODES: on Redis Cluster the prefix must not contain { or }; jobfleet gives each queue its own hash tag',
    );
  }
  return issues;
};

/** A PEM file read at start, so a wrong path fails before any connection is tried. */
const pemFile = {
  doc: 'A PEM file of the certificate authorities to trust for Redis TLS (default: the system roots).',
  example: '/etc/jobfleet/redis-ca.pem',
  parse(path: string) {
    try {
      return readFileSync(path, 'utf8');
    } catch (error) {
      throw new Error(`cannot read the CA file: ${(error as NodeJS.ErrnoException).code ?? 'error'}`);
    }
  },
  fallback: () => undefined,
};

/** Keys every jobfleet process reads. */
export const commonConfig = withChecks(
  {
    REDIS_URL: env.url({
      default: 'redis://127.0.0.1:6379',
      protocols: ['redis:', 'rediss:'],
      secret: true,
      doc: 'A standalone Redis that every queue lives in: `rediss://` for TLS; credentials in the URL or in `REDIS_USERNAME`/`REDIS_PASSWORD`. Leave unset with `REDIS_CLUSTER_NODES` or `REDIS_SENTINELS`.',
    }),
    REDIS_CLUSTER_NODES: env.hostPorts({
      doc: 'Redis Cluster instead of `REDIS_URL`: seed nodes as `host:port,host:port,…` (the client discovers the rest). Each queue gets its own hash slot.',
      example: 'redis-0:6379,redis-1:6379,redis-2:6379',
    }),
    REDIS_SENTINELS: env.hostPorts({
      doc: 'Sentinel-managed Redis instead of `REDIS_URL`: the sentinels as `host:port,…`; with `REDIS_SENTINEL_NAME`.',
      example: 'sentinel-0:26379,sentinel-1:26379,sentinel-2:26379',
    }),
    REDIS_SENTINEL_NAME: env.optionalString({
      doc: 'The master name the sentinels monitor (`sentinel monitor <name> …`).',
      example: 'jobfleet',
    }),
    REDIS_SENTINEL_PASSWORD: env.optionalString({
      secret: true,
      doc: 'The password of the sentinels themselves, when they want one (`requirepass` in sentinel.conf).',
      example: '<password>',
    }),
    REDIS_USERNAME: env.optionalString({
      doc: 'The Redis ACL user, for every topology (or in `REDIS_URL`).',
      example: 'jobfleet',
    }),
    REDIS_PASSWORD: {
      ...redisPassword.inline,
      doc: 'The Redis password, for every topology (or in `REDIS_URL`).',
      example: '<password>',
    },
    REDIS_PASSWORD_FILE: {
      ...redisPassword.file,
      doc: 'A file holding the Redis password (a mounted secret); instead of `REDIS_PASSWORD`.',
      example: '/run/secrets/redis-password',
    },
    REDIS_TLS: env.boolean({
      default: false,
      doc: 'Connect to Redis (every node, and the sentinels) over TLS. A `rediss://` `REDIS_URL` implies it.',
    }),
    REDIS_TLS_CA_FILE: pemFile,
    JOBFLEET_PREFIX: env.string({
      default: 'jobfleet',
      pattern: /^[A-Za-z0-9_{}-]+$/,
      maxLength: 64,
      doc: 'Prefix of every Redis key. On Redis Cluster, without `{` `}`: each queue gets the hash tag `{<prefix>:<queue>}`.',
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
  },
  [redisTopologyCheck],
);
