import type { Job } from 'bullmq';

/** One formatter per time zone: building one costs far more than formatting with it. */
const dayFormats = new Map<string, Intl.DateTimeFormat>();

/** `YYYY-MM-DD` of the calendar day `time` falls on in `timeZone`. */
export function dayIn(timeZone: string, time: number): string {
  let format = dayFormats.get(timeZone);
  if (!format) {
    // en-CA formats dates as YYYY-MM-DD.
    format = new Intl.DateTimeFormat('en-CA', {
      timeZone,
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
    });
    dayFormats.set(timeZone, format);
  }
  return format.format(new Date(time));
}

/** The day before `day` (`YYYY-MM-DD`), by the calendar. */
export function previousDay(day: string): string {
  const date = new Date(`${day}T00:00:00Z`);
  date.setUTCDate(date.getUTCDate() - 1);
  return date.toISOString().slice(0, 10);
}

/** "Yesterday" in `timeZone` as of `time`. */
export function yesterdayIn(timeZone: string, time: number): string {
  return previousDay(dayIn(timeZone, time));
}

/**
 * When a job became due: added, plus its delay (a scheduled job is added
 * ahead of its time). A report's default date is reckoned from this, not from
 * the clock, so every attempt of a job — a retry after midnight, an operator's
 * re-run a week later — covers the same day and writes the same file.
 */
export function dueTime(job: Pick<Job, 'timestamp' | 'opts'>): number {
  return job.timestamp + (job.opts.delay ?? 0);
}
