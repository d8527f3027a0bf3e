import { originOf, type reports } from '@jobfleet/queue-contracts';
import type { ReportStore } from '@jobfleet/report-store';
import type { HandlerMap, UsageRow } from '@jobfleet/worker-runtime';
import { RenderTimeoutError, TenantMismatchError } from './errors.js';
import type { ReportMetrics } from './metrics.js';
import type { ReportNotifier } from './notice.js';
import { progressReporter } from './progress.js';
import type { ReportRenderer } from './render/sandbox.js';
import { dueTime, yesterdayIn } from './report-date.js';
import { buildReportModel } from './report-model.js';

export interface ReportHandlerDeps {
  store: ReportStore;
  /** A tenant's usage on one UTC day: the worker-runtime's `readUsage` on the worker's connection. */
  readUsage(tenant: string, day: string): Promise<UsageRow[]>;
  renderer: ReportRenderer;
  notifier: ReportNotifier;
  metrics: ReportMetrics;
  /** `REPORT_TIMEZONE`: whose "yesterday" a job without `date` covers. */
  timeZone: string;
}

/**
 * The `reports` queue's handler. `daily-report`:
 *
 * 1. refuses a job whose origin names another tenant than `tenantId`
 *    (permanently: dead-lettered at once);
 * 2. takes `date`, or the day before the job became due in `timeZone`, and
 *    `format` (default csv);
 * 3. reads the tenant's day from the usage ledger and renders it in the
 *    sandbox (progress 0→100 along the way);
 * 4. stores it (`<tenant>/<date>/<jobId>.<ext>`, replacing the version of an
 *    earlier attempt);
 * 5. with `notify`, enqueues the notice once per report job.
 *
 * Every step may run again on a retry: the file is overwritten atomically and
 * the notice is not sent twice.
 */
export function createReportHandlers(deps: ReportHandlerDeps): HandlerMap<typeof reports> {
  const { store, renderer, notifier, metrics, timeZone } = deps;
  return {
    'daily-report': async (data, { job, log, signal }) => {
      if (job.id === undefined) throw new Error('the job has no id');
      const jobId = job.id;
      const origin = originOf(job)?.tenant;
      if (origin !== undefined && origin !== data.tenantId)
        throw new TenantMismatchError(origin, data.tenantId);
      const tenant = data.tenantId;
      const format = data.format ?? 'csv';
      const due = dueTime(job);
      const date = data.date ?? yesterdayIn(timeZone, due);
      const progress = progressReporter(job, log);
      progress.set(0);

      const model = buildReportModel(tenant, date, await deps.readUsage(tenant, date), new Date(due));
      progress.set(5);

      const started = performance.now();
      let body: Uint8Array;
      try {
        body = await renderer.render(
          { model, format },
          { signal, onProgress: (percent) => progress.set(5 + percent * 0.85) },
        );
      } catch (error) {
        if (!signal.aborted) {
          const reason = error instanceof RenderTimeoutError ? 'timeout' : 'error';
          metrics.renderFailures.labels({ format, reason }).inc();
        }
        throw error;
      }
      metrics.renderDuration.labels({ format }).observe((performance.now() - started) / 1000);
      metrics.size.labels({ format }).observe(body.length);

      const stored = await store.put({ tenant, date, jobId, format }, body);
      progress.set(95);
      log.info(
        { tenant, date, format, bytes: stored.bytes, rows: model.rows.length, path: stored.path },
        'report stored',
      );

      if (data.notify) {
        const result = await notifier.notify({
          reportJobId: jobId,
          tenant,
          date,
          format,
          bytes: stored.bytes,
          totals: model.totals,
          to: data.notify,
        });
        metrics.notices.labels({ result }).inc();
        log.info(
          { tenant, date, notice: result },
          result === 'enqueued'
            ? 'report notice enqueued'
            : 'report notice already sent; not sending it again',
        );
      }
      progress.set(100);
      await progress.flush();
      return {
        path: stored.path,
        bytes: stored.bytes,
        sha256: stored.sha256,
        contentType: stored.contentType,
        rows: model.rows.length,
      };
    },
  };
}
