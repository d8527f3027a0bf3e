import { createHash } from 'node:crypto';
import { TenantId } from '@jobfleet/queue-contracts';
import { InvalidReportKeyError } from './errors.js';
import { isReportFormat, REPORT_FORMATS, type ReportFormat } from './formats.js';

/** What names one stored report: whose, which day, which job made it, in which format. */
export interface ReportKey {
  tenant: string;
  /** The report's day, `YYYY-MM-DD`. */
  date: string;
  /** The id of the `daily-report` job that rendered it. */
  jobId: string;
  format: ReportFormat;
}

/** The contract's tenant-id rule (lower-case letters, digits, `-`, `_`), reused so the two never drift. */
const tenantRule = TenantId as unknown as { pattern: string; maxLength: number };
const TENANT = new RegExp(tenantRule.pattern);
const TENANT_MAX = tenantRule.maxLength;
const DATE = /^\d{4}-\d{2}-\d{2}$/;
/** Longest encoded job id kept readable; longer ones are named by their hash (file names stop at 255 bytes). */
const ENCODED_MAX = 160;
/** Longest job id accepted at all; BullMQ ids are far shorter in practice. */
const JOB_ID_MAX = 4_096;

export function assertTenant(tenant: string): void {
  if (typeof tenant !== 'string' || tenant.length > TENANT_MAX || !TENANT.test(tenant)) {
    throw new InvalidReportKeyError('tenant', `must match ${TENANT} and be at most ${TENANT_MAX} characters`);
  }
}

export function assertDate(date: string): void {
  // Round-tripping through Date rejects 2026-02-30 and friends.
  if (
    typeof date !== 'string' ||
    !DATE.test(date) ||
    Number.isNaN(Date.parse(`${date}T00:00:00Z`)) ||
    new Date(`${date}T00:00:00Z`).toISOString().slice(0, 10) !== date
  ) {
    throw new InvalidReportKeyError('date', 'must be a calendar date, YYYY-MM-DD');
  }
}

export function assertJobId(jobId: string): void {
  if (typeof jobId !== 'string' || jobId.length === 0 || jobId.length > JOB_ID_MAX) {
    throw new InvalidReportKeyError(
      'jobId',
      `must be a non-empty string of at most ${JOB_ID_MAX} characters`,
    );
  }
}

export function assertKey(key: ReportKey): void {
  assertTenant(key.tenant);
  assertDate(key.date);
  assertJobId(key.jobId);
  if (!isReportFormat(key.format)) throw new InvalidReportKeyError('format', 'must be csv or pdf');
}

const SAFE = /^[A-Za-z0-9_-]$/;

/**
 * A job id as one path segment: letters, digits, `_` and `-` stay, every other
 * UTF-8 byte becomes `~XX` (so `/`, `\`, `.`, NUL and `~` itself can neither
 * climb out of a directory nor collide with another id). Ids whose encoding
 * would be longer than 160 characters are named `=<sha256 of the id>` instead.
 * The result is never empty, never `.` or `..`, and never starts with `.`
 * (temporary files do).
 */
export function encodeJobId(jobId: string): string {
  assertJobId(jobId);
  let out = '';
  for (const char of jobId) {
    if (SAFE.test(char)) out += char;
    else
      for (const byte of Buffer.from(char, 'utf8'))
        out += `~${byte.toString(16).toUpperCase().padStart(2, '0')}`;
    if (out.length > ENCODED_MAX) break;
  }
  return out.length > ENCODED_MAX ? `=${createHash('sha256').update(jobId, 'utf8').digest('hex')}` : out;
}

/** The store-relative path of a report: `<tenant>/<date>/<encoded job id>.<ext>`, `/`-separated. */
export function reportPath(key: ReportKey): string {
  assertKey(key);
  return `${key.tenant}/${key.date}/${encodeJobId(key.jobId)}.${REPORT_FORMATS[key.format].extension}`;
}

/** The name a download is offered under: `report-<tenant>-<date>.<ext>` (ASCII, no quoting needed). */
export function reportFileName(key: Pick<ReportKey, 'tenant' | 'date' | 'format'>): string {
  return `report-${key.tenant}-${key.date}.${REPORT_FORMATS[key.format].extension}`;
}
