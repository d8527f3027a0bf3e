import { resolve } from 'node:path';
import { type ConfigOf, type EnvVar, env } from '@jobfleet/service-kit';
import { createFilesystemReportStore } from './filesystem-store.js';
import type { ReportStore } from './report-store.js';

/** A directory, resolved against the working directory when relative. */
function directory(fallback: string, doc: string): EnvVar<string> {
  return {
    parse(raw) {
      if (/\p{Cc}/u.test(raw)) throw new Error('must not contain control characters');
      return resolve(raw);
    },
    fallback: () => resolve(fallback),
    defaultText: fallback,
    doc,
  };
}

/**
 * The report store's environment keys, read by the report worker (which
 * writes) and the gateway (which serves downloads): spread it into an app's
 * config spec, then pass the loaded config to {@link createReportStore}. Each
 * key's `doc` says what it does.
 */
export const reportStoreConfig = {
  REPORTS_DIR: directory(
    '.data/reports',
    "The report store's root directory, relative to the working directory; the report worker and the gateway must see the same one (one machine, or a shared volume).",
  ),
  REPORT_RETENTION_DAYS: env.integer({
    default: 30,
    min: 1,
    max: 3_650,
    doc: "Reports stored longer ago are removed by the report worker's periodic trim.",
  }),
};

export type ReportStoreConfig = ConfigOf<typeof reportStoreConfig>;

/** The store the configuration names; today always the filesystem store under `REPORTS_DIR`. */
export function createReportStore(config: Pick<ReportStoreConfig, 'reportsDir'>): ReportStore {
  return createFilesystemReportStore({ dir: config.reportsDir });
}
