import { reportStoreConfig } from '@jobfleet/report-store';
import { documented, type EnvVar, env } from '@jobfleet/service-kit';
import type { WorkerConfigOf } from '@jobfleet/worker-runtime';

/** An IANA time zone name, checked against the runtime's time-zone data. */
function timeZone(fallback: string): EnvVar<string> {
  return {
    defaultText: fallback,
    parse(raw) {
      try {
        // Throws a RangeError for a name the runtime does not know.
        return new Intl.DateTimeFormat('en-US', { timeZone: raw }).resolvedOptions().timeZone;
      } catch {
        throw new Error('must be an IANA time zone, e.g. UTC or Europe/Berlin');
      }
    },
    fallback: () => fallback,
  };
}

/** An absolute http(s) URL without query or fragment; a trailing `/` is dropped. */
function publicUrl(fallback: string): EnvVar<string> {
  const url = env.url({ protocols: ['http:', 'https:'] });
  const parse = (raw: string) => {
    if (/\p{Cc}/u.test(raw)) throw new Error('must not contain control characters');
    const parsed = new URL(url.parse(raw));
    if (parsed.search || parsed.hash || parsed.username || parsed.password) {
      throw new Error('must be a base URL without credentials, query or fragment');
    }
    return parsed.toString().replace(/\/+$/, '');
  };
  return { parse, fallback: () => parse(fallback), defaultText: fallback };
}

/**
 * The report worker's own environment: the report store's keys (`REPORTS_DIR`,
 * `REPORT_RETENTION_DAYS`, shared with the gateway) and the ones below;
 * `defineWorker` adds those of every worker (`REDIS_URL`, `METRICS_PORT` 9102,
 * `WORKER_CONCURRENCY` 2, …). The README lists them with their defaults.
 */
export const reportConfig = {
  ...reportStoreConfig,
  REPORT_TIMEZONE: documented(timeZone('UTC'), {
    doc: 'The IANA time zone whose "yesterday" a report without `date` covers; the usage ledger\'s days themselves are UTC days.',
  }),
  REPORT_TIMEOUT_MS: env.duration({
    default: 120_000,
    min: 100,
    max: 3_600_000,
    doc: 'Longest a render may take; the sandbox is then terminated and the attempt fails (and is retried).',
  }),
  REPORT_SANDBOX_MEMORY_MB: env.integer({
    default: 512,
    min: 32,
    max: 16_384,
    doc: "Heap limit of one render's sandbox thread, in MiB; a render beyond it fails the attempt instead of the process.",
  }),
  REPORT_TRIM_INTERVAL_MS: env.duration({
    default: 3_600_000,
    min: 1_000,
    doc: 'How often the worker removes reports older than `REPORT_RETENTION_DAYS`.',
  }),
  GATEWAY_PUBLIC_URL: documented(publicUrl('http://localhost:3000'), {
    doc: "The gateway's address as recipients reach it: notices link to `<it>/v1/reports/<jobId>/file`.",
  }),
};

/** The report worker's whole configuration, loaded: every worker's keys and its own. */
export type ReportWorkerConfig = WorkerConfigOf<typeof reportConfig>;
