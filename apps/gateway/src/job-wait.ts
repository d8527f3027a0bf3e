import type { Job } from 'bullmq';
import type { JobEvent, JobEvents } from './job-events.js';
import { FINISHED_STATES } from './job-state.js';
import type { JobState } from './schemas/jobs.js';

/** The longest `waitMs` a status request may ask for. */
export const MAX_WAIT_MS = 30_000;

/** A job as read from Redis, with its state as a client sees it. */
export interface JobSnapshot {
  job: Job;
  state: JobState;
}

/**
 * Something that happened to a watched job, in order: its state now (read
 * again after each change BullMQ reports), or a progress report. `undefined`
 * as the snapshot means the job is gone (removed, or no longer visible).
 */
export type WatchUpdate =
  | { kind: 'state'; snapshot: JobSnapshot | undefined }
  | { kind: 'progress'; progress: unknown };

const isFinished = (snapshot: JobSnapshot | undefined) => !snapshot || FINISHED_STATES.has(snapshot.state);

/**
 * Follows one job through the shared {@link JobEvents}: subscribes first, then
 * reads the job, so no change between the two is missed. `onUpdate` gets the
 * first snapshot, then every update, one at a time, until the job is finished
 * or gone, `signal` aborts, or a read fails; the returned promise then settles
 * (rejecting with the read's error) and the subscription is released.
 */
export function watchJob(options: WatchOptions): Promise<JobSnapshot | undefined> {
  return options.events.track(follow(options));
}

interface WatchOptions {
  events: JobEvents;
  queue: string;
  id: string;
  read: () => Promise<JobSnapshot | undefined>;
  signal: AbortSignal;
  onUpdate: (update: WatchUpdate) => void;
}

async function follow(options: WatchOptions): Promise<JobSnapshot | undefined> {
  const { events, queue, id, read, signal, onUpdate } = options;
  const pending: JobEvent[] = [];
  let wake: (() => void) | undefined;
  const unsubscribe = await events.subscribe(queue, id, (event) => {
    pending.push(event);
    wake?.();
  });
  const aborted = () => wake?.();
  signal.addEventListener('abort', aborted, { once: true });
  try {
    let snapshot = await read();
    onUpdate({ kind: 'state', snapshot });
    while (!isFinished(snapshot) && !signal.aborted) {
      const event = pending.shift();
      if (!event) {
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
        wake = undefined;
        continue;
      }
      if (event.type === 'progress') {
        onUpdate({ kind: 'progress', progress: event.progress });
        continue;
      }
      // Several changes queued up: one read covers them all.
      while (pending[0] && pending[0].type !== 'progress') pending.shift();
      snapshot = await read();
      onUpdate({ kind: 'state', snapshot });
    }
    return snapshot;
  } finally {
    signal.removeEventListener('abort', aborted);
    unsubscribe();
  }
}
