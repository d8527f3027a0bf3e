import type { Readable } from 'node:stream';
import type { ReportFormat } from './formats.js';
import type { ReportKey } from './report-key.js';

/** A report's bytes: whole, or as chunks (a stream, an async generator). */
export type ReportBody = Uint8Array | AsyncIterable<Uint8Array> | Iterable<Uint8Array>;

/** What is known about a stored report without reading it. */
export interface StoredReport {
  tenant: string;
  /** The report's day, `YYYY-MM-DD`. */
  date: string;
  jobId: string;
  format: ReportFormat;
  /** Store-relative, `/`-separated: `<tenant>/<date>/<encoded job id>.<ext>`. */
  path: string;
  bytes: number;
  /** Hex SHA-256 of the bytes: an `ETag` for downloads. */
  sha256: string;
  contentType: string;
  /** `report-<tenant>-<date>.<ext>`, for `Content-Disposition`. */
  fileName: string;
  /** When this version was stored (ISO 8601). */
  storedAt: string;
}

/** A stored report opened for reading. The caller must consume or destroy `stream`. */
export interface ReportFile extends StoredReport {
  stream: Readable;
}

export interface TrimResult {
  /** Reports removed because they were stored before the cutoff. */
  removed: number;
  /** Leftovers removed: temporary files of interrupted writes, index entries without a file. */
  leftovers: number;
}

/**
 * Where rendered reports are kept. The worker writes through `put`; the
 * gateway reads through `stat`/`open`. Reports are found by tenant and job id
 * only, so a caller can never reach another tenant's report by naming its job.
 *
 * An implementation must make `put` atomic (a reader sees the old report or
 * the new one, never a part) and must accept any job id (encoding it as it
 * needs). The filesystem implementation is the first; an S3-compatible one
 * fits the same interface (`put` = one PUT with the sha256 as metadata,
 * `open` = GET, `trim` = a lifecycle rule or a listing).
 */
export interface ReportStore {
  /** `filesystem`, later e.g. `s3`: for logs. */
  readonly kind: string;
  /** Where the reports are (a directory, a bucket URL): for logs. */
  readonly location: string;
  /** Stores a report atomically, replacing any earlier version under the same key. */
  put(key: ReportKey, body: ReportBody): Promise<StoredReport>;
  /** The metadata of a tenant's report by job id; `undefined` when there is none. */
  stat(tenant: string, jobId: string): Promise<StoredReport | undefined>;
  /** Opens a tenant's report by job id; `undefined` when there is none. */
  open(tenant: string, jobId: string): Promise<ReportFile | undefined>;
  /** Removes a tenant's report; `true` when there was one. */
  remove(tenant: string, jobId: string): Promise<boolean>;
  /** Every stored report (of one tenant, if given), in no particular order. */
  list(filter?: { tenant?: string }): AsyncIterable<StoredReport>;
  /** Removes every report stored before `cutoff`, and leftovers of interrupted writes. */
  trim(cutoff: Date): Promise<TrimResult>;
  /** Whether reports can be written now (readiness). */
  check(): Promise<{ ok: true } | { ok: false; reason: string }>;
}

/** The cutoff for a retention of `days` days, counted back from `now`. */
export function retentionCutoff(days: number, now = Date.now()): Date {
  return new Date(now - days * 86_400_000);
}
