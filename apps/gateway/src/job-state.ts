import { CANCELLED_REASON } from '@jobfleet/queue-contracts';
import type { JobState as BullState } from 'bullmq';
import type { JobState } from './schemas/jobs.js';

/** BullMQ's state of a job as a client sees it; `undefined` when the job does not exist. */
export function clientState(
  state: BullState | 'unknown',
  job: { failedReason?: string | undefined },
): JobState | undefined {
  if (state === 'unknown') return undefined;
  // The worker runtime ends a cancelled job as failed with exactly this reason, and never retries it.
  if (state === 'failed' && job.failedReason === CANCELLED_REASON) return 'cancelled';
  return state;
}

/** States in which a job is done: no worker holds it and none will. */
export const FINISHED_STATES: ReadonlySet<JobState> = new Set(['completed', 'failed', 'cancelled']);
