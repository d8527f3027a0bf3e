import { stringify } from 'csv-stringify/sync';
import type { ReportModel } from '../report-model.js';

/** The CSV's columns, in order; durations are seconds. */
export const CSV_COLUMNS = [
  'queue',
  'job_name',
  'completed',
  'retried',
  'dead_lettered',
  'cancelled',
  'p50_seconds',
  'p95_seconds',
  'durations',
] as const;

/**
 * RFC 4180 CSV (CRLF line ends, quoting where needed): a header, then one
 * line per queue and job name. A duration is empty when no attempt ran;
 * `durations` says whether the quantiles are `measured` or `estimated`.
 */
export function renderCsv(model: ReportModel): Uint8Array {
  const text = stringify(
    model.rows.map((row) => [
      row.queue,
      row.jobName,
      row.completed,
      row.retried,
      row.deadLettered,
      row.cancelled,
      row.p50Seconds ?? '',
      row.p95Seconds ?? '',
      row.durations ?? '',
    ]),
    { header: true, columns: [...CSV_COLUMNS], record_delimiter: 'windows' },
  );
  return Buffer.from(text, 'utf8');
}
