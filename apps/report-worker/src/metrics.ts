import { REPORT_FORMATS } from '@jobfleet/report-store';
import { DURATION_BUCKETS, perRegistry } from '@jobfleet/service-kit';
import { Counter, Histogram } from 'prom-client';

/** 1 KiB to 64 MiB, by fours. */
const SIZE_BUCKETS = [1_024, 4_096, 16_384, 65_536, 262_144, 1_048_576, 4_194_304, 16_777_216, 67_108_864];

export const RENDER_FAILURE_REASONS = ['timeout', 'error'] as const;
export const NOTICE_RESULTS = ['enqueued', 'already_sent'] as const;

export interface ReportMetrics {
  /** `jobfleet_report_render_duration_seconds{format}`: successful renders, sandbox start to bytes back. */
  renderDuration: Histogram<'format'>;
  /** `jobfleet_report_size_bytes{format}` */
  size: Histogram<'format'>;
  /** `jobfleet_report_render_failures_total{format,reason}`, reason `timeout` or `error` */
  renderFailures: Counter<'format' | 'reason'>;
  /** `jobfleet_report_notices_total{result}`, result `enqueued` or `already_sent` */
  notices: Counter<'result'>;
  /** `jobfleet_reports_trimmed_total` */
  trimmed: Counter<never>;
}

/**
 * The report worker's own metrics, beside the runtime's on the same registry.
 * Every label value exists from the start (at zero), so rates and alerts work
 * before the first report.
 */
export const reportMetrics = perRegistry((registers): ReportMetrics => {
  const metrics: ReportMetrics = {
    renderDuration: new Histogram({
      name: 'jobfleet_report_render_duration_seconds',
      help: 'Time to render one report in its sandbox, by format.',
      labelNames: ['format'],
      buckets: DURATION_BUCKETS,
      registers,
    }),
    size: new Histogram({
      name: 'jobfleet_report_size_bytes',
      help: 'Size of a rendered report, by format.',
      labelNames: ['format'],
      buckets: SIZE_BUCKETS,
      registers,
    }),
    renderFailures: new Counter({
      name: 'jobfleet_report_render_failures_total',
      help: 'Renders that failed, by format and reason (timeout: terminated at REPORT_TIMEOUT_MS; error).',
      labelNames: ['format', 'reason'],
      registers,
    }),
    notices: new Counter({
      name: 'jobfleet_report_notices_total',
      help: 'Report notices: enqueued as an e-mail job, or already sent by an earlier attempt or run.',
      labelNames: ['result'],
      registers,
    }),
    trimmed: new Counter({
      name: 'jobfleet_reports_trimmed_total',
      help: 'Reports removed by the retention trim (REPORT_RETENTION_DAYS).',
      registers,
    }),
  };
  for (const format of Object.keys(REPORT_FORMATS)) {
    metrics.renderDuration.zero({ format });
    metrics.size.zero({ format });
    for (const reason of RENDER_FAILURE_REASONS) metrics.renderFailures.labels({ format, reason }).inc(0);
  }
  for (const result of NOTICE_RESULTS) metrics.notices.labels({ result }).inc(0);
  metrics.trimmed.inc(0);
  return metrics;
});
