import type { Logger } from '@jobfleet/service-kit';
import type { Job } from 'bullmq';

export interface ProgressReporter {
  /** Reports `percent` (rounded) if it moves forward by at least the step, or reaches 0 or 100. */
  set(percent: number): void;
  /** Resolves once every reported value has reached Redis. */
  flush(): Promise<void>;
}

/**
 * `job.updateProgress`, kept monotonic, thinned to one write per `step`
 * percent, and sent one at a time in order (each is a Redis round trip). A
 * failed write is logged, not thrown: progress is informative, the report is
 * what matters.
 */
export function progressReporter(job: Pick<Job, 'updateProgress'>, log: Logger, step = 5): ProgressReporter {
  let last = -1;
  let chain = Promise.resolve();
  return {
    set(percent) {
      const value = Math.max(0, Math.min(100, Math.round(percent)));
      if (value <= last || (value - last < step && value !== 100 && last !== -1)) return;
      last = value;
      chain = chain.then(() =>
        job.updateProgress(value).catch((err: unknown) => log.debug({ err }, 'could not report progress')),
      );
    },
    flush: () => chain,
  };
}
