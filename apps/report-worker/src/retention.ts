import { type ReportStore, retentionCutoff, type TrimResult } from '@jobfleet/report-store';
import type { Logger } from '@jobfleet/service-kit';
import type { ReportMetrics } from './metrics.js';

export interface RetentionOptions {
  store: ReportStore;
  retentionDays: number;
  intervalMs: number;
  logger: Logger;
  metrics: ReportMetrics;
}

export interface Retention {
  /** Trims now (waiting for a trim already running); `undefined` when it failed (logged). */
  runNow(): Promise<TrimResult | undefined>;
  /** Stops the timer and waits for a running trim. */
  stop(): Promise<void>;
}

/**
 * Removes reports older than `REPORT_RETENTION_DAYS`, once at start and then
 * every `REPORT_TRIM_INTERVAL_MS`. Replicas sharing a directory may all trim:
 * removing what another already removed is not an error.
 */
export function startRetention(options: RetentionOptions): Retention {
  const { store, retentionDays, logger, metrics } = options;
  let running: Promise<TrimResult | undefined> = Promise.resolve(undefined);
  const trim = () => {
    running = running.then(async () => {
      try {
        const result = await store.trim(retentionCutoff(retentionDays));
        metrics.trimmed.inc(result.removed);
        if (result.removed > 0 || result.leftovers > 0) {
          logger.info({ ...result, retention_days: retentionDays }, 'old reports removed');
        }
        return result;
      } catch (err) {
        logger.warn({ err }, 'could not trim old reports; will try again');
        return undefined;
      }
    });
    return running;
  };
  void trim();
  const timer = setInterval(() => void trim(), options.intervalMs);
  timer.unref();
  return {
    runNow: trim,
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
