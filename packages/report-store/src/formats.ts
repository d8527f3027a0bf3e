/** The formats a report is rendered in, with the file extension and media type of each. */
export const REPORT_FORMATS = {
  csv: { extension: 'csv', contentType: 'text/csv; charset=utf-8' },
  pdf: { extension: 'pdf', contentType: 'application/pdf' },
} as const;

export type ReportFormat = keyof typeof REPORT_FORMATS;

export function isReportFormat(value: unknown): value is ReportFormat {
  return typeof value === 'string' && Object.hasOwn(REPORT_FORMATS, value);
}

/** The media type a report of `format` is served with. */
export function contentTypeOf(format: ReportFormat): string {
  return REPORT_FORMATS[format].contentType;
}
