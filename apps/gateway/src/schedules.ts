import type { ValidationIssue } from '@jobfleet/queue-contracts';
import type { JobSchedulerJson, RepeatOptions } from 'bullmq';
import { CronExpressionParser } from 'cron-parser';
import type { Schedule, ScheduleBody } from './schemas/schedules.js';

const CRON_MACRO = /^@(yearly|annually|monthly|weekly|daily|hourly|minutely|secondly|weekdays|weekends)$/;

/** Whether `zone` is an IANA time zone this runtime knows (`Europe/Berlin`, `UTC`, …). */
export function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/**
 * The rules of a schedule that its JSON schema cannot say: exactly one of
 * `cron` and `everyMs`; a cron expression of 5 or 6 fields (or a macro such as
 * `@daily`) that cron-parser — the parser BullMQ runs — accepts in the given
 * time zone; a time zone only with cron; and at least one run between
 * `startDate` and `endDate`. Returns the issues, empty when the body is fine.
 */
export function scheduleIssues(body: ScheduleBody, now = Date.now()): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  const { cron, everyMs, timezone } = body;
  if (cron === undefined && everyMs === undefined) {
    issues.push({ path: '/cron', message: 'either cron or everyMs is required' });
  }
  if (cron !== undefined && everyMs !== undefined) {
    issues.push({ path: '/everyMs', message: 'cannot be combined with cron; give one of them' });
  }
  if (timezone !== undefined) {
    if (cron === undefined) issues.push({ path: '/timezone', message: 'applies only to a cron schedule' });
    else if (!isTimeZone(timezone)) {
      issues.push({ path: '/timezone', message: 'is not an IANA time zone (e.g. "Europe/Berlin", "UTC")' });
    }
  }
  const start = body.startDate === undefined ? undefined : Date.parse(body.startDate);
  const end = body.endDate === undefined ? undefined : Date.parse(body.endDate);
  if (end !== undefined && end <= now) issues.push({ path: '/endDate', message: 'must be in the future' });
  if (start !== undefined && end !== undefined && end <= start) {
    issues.push({ path: '/endDate', message: 'must be after startDate' });
  }
  if (cron !== undefined && issues.every((issue) => issue.path !== '/timezone')) {
    const problem = cronProblem(cron, timezone, Math.max(now, start ?? now), end);
    if (problem) issues.push({ path: '/cron', message: problem });
  }
  return issues;
}

/** Why `cron` is no usable schedule, or `undefined` when it is one. */
function cronProblem(cron: string, tz: string | undefined, from: number, to: number | undefined) {
  const fields = cron.trim().split(/\s+/);
  if (!CRON_MACRO.test(cron.trim()) && (fields.length < 5 || fields.length > 6)) {
    return 'must have 5 fields (minute hour day-of-month month day-of-week), 6 with seconds first, or be a macro such as @daily';
  }
  try {
    const expression = CronExpressionParser.parse(cron, {
      tz,
      currentDate: new Date(from),
      ...(to === undefined ? {} : { endDate: new Date(to) }),
    });
    expression.next();
    return undefined;
  } catch (error) {
    const reason = (error as Error).message;
    return /out of the time ?span range/i.test(reason)
      ? 'never fires between startDate and endDate'
      : `is not a valid cron expression: ${reason.slice(0, 200)}`;
  }
}

/** A schedule's timing, as BullMQ's `upsertJobScheduler` takes it. */
export function repeatOptionsOf(body: ScheduleBody): Omit<RepeatOptions, 'key'> {
  const repeat: Omit<RepeatOptions, 'key'> = {};
  if (body.cron !== undefined) repeat.pattern = body.cron;
  if (body.everyMs !== undefined) repeat.every = body.everyMs;
  if (body.timezone !== undefined) repeat.tz = body.timezone;
  if (body.startDate !== undefined) repeat.startDate = Date.parse(body.startDate);
  if (body.endDate !== undefined) repeat.endDate = Date.parse(body.endDate);
  if (body.limit !== undefined) repeat.limit = body.limit;
  return repeat;
}

const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());

/** A BullMQ job scheduler as the API shows it. */
export function toSchedule(queue: string, scheduler: JobSchedulerJson): Schedule {
  const schedule: Schedule = {
    id: scheduler.key,
    queue,
    name: scheduler.name,
    data: scheduler.template?.data ?? {},
    // BullMQ counts the job it made for the next run too; that one has not run yet.
    runs: Math.max(0, (scheduler.iterationCount ?? 0) - (scheduler.next ? 1 : 0)),
    nextRunAt: scheduler.next ? new Date(scheduler.next).toISOString() : null,
  };
  if (scheduler.pattern !== undefined) schedule.cron = scheduler.pattern;
  if (scheduler.every !== undefined) schedule.everyMs = scheduler.every;
  if (scheduler.tz !== undefined) schedule.timezone = scheduler.tz;
  const startDate = iso(scheduler.startDate);
  if (startDate) schedule.startDate = startDate;
  const endDate = iso(scheduler.endDate);
  if (endDate) schedule.endDate = endDate;
  if (scheduler.limit !== undefined) schedule.limit = scheduler.limit;
  return schedule;
}
