import { createHash } from 'node:crypto';
import { emails, type JobData, reports, validate, withOrigin } from '@jobfleet/queue-contracts';
import type { ReportFormat } from '@jobfleet/report-store';
import { queuePrefix, type RedisClient } from '@jobfleet/service-kit';
import { Queue } from 'bullmq';
import type { ReportTotals } from './report-model.js';

type NotificationData = JobData<typeof emails, 'notification'>;

/** What a notice says about a stored report. */
export interface ReportNotice {
  /** The `daily-report` job's id: the notice's identity and the download link's. */
  reportJobId: string;
  tenant: string;
  date: string;
  format: ReportFormat;
  bytes: number;
  totals: ReportTotals;
  to: string;
}

export type NoticeResult = 'enqueued' | 'already_sent';

export interface ReportNotifier {
  /** Enqueues the notice e-mail unless this report job's notice was enqueued before. */
  notify(notice: ReportNotice): Promise<NoticeResult>;
  close(): Promise<void>;
}

/**
 * The notice's `emails` job id, derived from the report job's id: a retry or
 * re-run of the report adds a job with the same id, which BullMQ ignores.
 * Custom ids may not contain `:` nor be integers, so ids are prefixed and
 * anything beyond `[A-Za-z0-9._-]` (or longer than 100) is replaced by its hash.
 */
export function noticeJobId(reportJobId: string): string {
  return /^[A-Za-z0-9._-]{1,100}$/.test(reportJobId)
    ? `report-notice-${reportJobId}`
    : `report-notice-h${createHash('sha256').update(reportJobId, 'utf8').digest('hex')}`;
}

/** Where the gateway serves a report: `<base>/v1/reports/<jobId>/file`. */
export function downloadUrl(gatewayPublicUrl: string, reportJobId: string): string {
  return `${gatewayPublicUrl.replace(/\/+$/, '')}/v1/reports/${encodeURIComponent(reportJobId)}/file`;
}

/**
 * How long the "notice sent" marker lives: longer than the `reports` contract
 * keeps a finished job (7 days completed, 14 failed), so every job that can
 * still be retried or re-run finds it. The `emails` job id alone would not do:
 * that queue drops completed jobs after a day or 10,000 newer ones.
 */
export const NOTICE_MARKER_TTL_SECONDS =
  Math.max(reports.defaultJobOptions.removeOnComplete.age, reports.defaultJobOptions.removeOnFail.age) +
  86_400;

export function noticeMarkerKey(prefix: string, reportJobId: string): string {
  return `${prefix}:jobfleet:report-notice:${noticeJobId(reportJobId)}`;
}

const count = (n: number) => n.toLocaleString('en-US');

export function noticeData(notice: ReportNotice, link: string, retentionDays: number): NotificationData {
  const { totals } = notice;
  const text = [
    `The ${notice.format.toUpperCase()} report of tenant ${notice.tenant} for ${notice.date} (UTC) is ready:`,
    '',
    link,
    '',
    `Jobs finished: ${count(totals.jobs)} (completed ${count(totals.completed)}, dead-lettered ${count(totals.deadLettered)}, cancelled ${count(totals.cancelled)}); retried attempts: ${count(totals.retried)}.`,
    '',
    `Downloading it takes an API key of tenant ${notice.tenant} with the reports:read scope. The report is kept ${retentionDays} days.`,
  ].join('\n');
  return { to: notice.to, subject: `Daily report for ${notice.tenant}, ${notice.date}`, text };
}

export interface ReportNotifierOptions {
  connection: RedisClient;
  prefix: string;
  gatewayPublicUrl: string;
  retentionDays: number;
}

/**
 * Sends each report's notice once: a marker in Redis says it was enqueued,
 * and the notice job's id is derived from the report job's, so the two steps
 * are safe to repeat after a crash between them.
 */
export function createReportNotifier(options: ReportNotifierOptions): ReportNotifier {
  const { connection, prefix } = options;
  const queue = new Queue(emails.name, { connection, prefix: queuePrefix(connection, prefix, emails.name) });
  return {
    async notify(notice) {
      const marker = noticeMarkerKey(prefix, notice.reportJobId);
      const jobId = noticeJobId(notice.reportJobId);
      if ((await connection.exists(marker)) === 1) return 'already_sent';
      // Enqueued by an attempt that died before it could set the marker.
      const existing = await queue.getJob(jobId);
      if (!existing) {
        const data = noticeData(
          notice,
          downloadUrl(options.gatewayPublicUrl, notice.reportJobId),
          options.retentionDays,
        );
        const check = validate(emails.jobs.notification.data, data);
        if (!check.ok)
          throw new Error(`the report notice breaks the emails contract: ${JSON.stringify(check.issues)}`);
        await queue.add(
          'notification',
          data,
          withOrigin(
            { ...emails.defaultJobOptions, jobId },
            { client: 'report-worker', tenant: notice.tenant },
          ),
        );
      }
      await connection.set(marker, jobId, 'EX', NOTICE_MARKER_TTL_SECONDS);
      return existing ? 'already_sent' : 'enqueued';
    },
    close: () => queue.close(),
  };
}
