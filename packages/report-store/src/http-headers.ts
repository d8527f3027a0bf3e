import type { StoredReport } from './report-store.js';

/** A strong `ETag` for a report: its sha256, quoted. */
export function reportEtag(report: Pick<StoredReport, 'sha256'>): string {
  return `"${report.sha256}"`;
}

/**
 * The response headers of a report download: type, length, `attachment` with
 * the report's file name (ASCII by construction, so no RFC 5987 form is
 * needed), and the ETag.
 */
export function reportHeaders(report: StoredReport): Record<string, string> {
  return {
    'content-type': report.contentType,
    'content-length': String(report.bytes),
    'content-disposition': `attachment; filename="${report.fileName}"`,
    etag: reportEtag(report),
  };
}

/**
 * Whether an `If-None-Match` header matches the report (RFC 9110 weak
 * comparison: `W/` prefixes are ignored, `*` matches anything).
 */
export function ifNoneMatchHits(header: string | undefined, report: Pick<StoredReport, 'sha256'>): boolean {
  if (!header) return false;
  const etag = reportEtag(report);
  return header
    .split(',')
    .map((tag) => tag.trim().replace(/^W\//, ''))
    .some((tag) => tag === '*' || tag === etag);
}
