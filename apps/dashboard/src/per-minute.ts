import type { Metrics } from 'bullmq';

export const MINUTE_MS = 60_000;

/** The data points to read from BullMQ for a series of `minutes` minutes (with room for clock skew). */
export const metricsPointsFor = (minutes: number) => minutes + 5;

/**
 * BullMQ's per-minute metrics as a plain series: the counts for the `minutes`
 * minutes that end with the current one, oldest first.
 *
 * How BullMQ stores them (`collectMetrics.lua`): `meta.count` counts every job
 * ever finished; the list `data` gets a point only when a job finishes in a
 * later minute than `meta.prevTS`, so
 * - the jobs finished in the minute of `prevTS` so far are `count - prevCount`;
 * - `data[i]` holds the minute `i + 1` minutes before the minute of `prevTS`;
 * - minutes after `prevTS` had no job at all.
 * Reading the list alone would show the last busy minute as "now" and drop
 * the current minute's jobs.
 */
export function perMinuteSeries(
  metrics: Pick<Metrics, 'meta' | 'data'>,
  now: number,
  minutes = 60,
): number[] {
  const series = new Array<number>(minutes).fill(0);
  const { prevTS, count, prevCount } = metrics.meta;
  if (!prevTS) return series;
  const currentMinute = Math.floor(now / MINUTE_MS);
  const lastMinute = Math.floor(prevTS / MINUTE_MS);
  for (let i = 0; i < minutes; i += 1) {
    const minute = currentMinute - (minutes - 1) + i;
    if (minute === lastMinute) series[i] = Math.max(0, count - prevCount);
    else if (minute < lastMinute) series[i] = metrics.data[lastMinute - 1 - minute] ?? 0;
  }
  return series;
}
