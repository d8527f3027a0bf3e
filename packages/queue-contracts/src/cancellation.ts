/**
 * Cancelling an active job across processes. BullMQ can abort a job only from
 * the process that runs it, so the gateway leaves a marker key and publishes
 * the job id; every worker of the queue listens, and the one holding the job
 * aborts the handler's `AbortSignal`. The marker also covers a worker that
 * missed the message: workers re-check the markers of their active jobs
 * periodically.
 *
 * A cancelled job ends failed with exactly {@link CANCELLED_REASON} as its
 * reason, without retries and without a dead-letter record; the gateway reports
 * its state as `cancelled`.
 */

export const CANCELLED_REASON = 'cancelled on request';

/** How long a cancel request stays valid for a worker that has not seen it yet (seconds). */
export const CANCEL_MARKER_TTL_SECONDS = 24 * 3_600;

/**
 * The pub/sub channel on which cancel requests for `queue` are announced (message: the job id).
 * `prefix` is the queue's BullMQ prefix (service-kit's `queuePrefix`: hash-tagged on Redis Cluster).
 */
export function cancelChannel(prefix: string, queue: string): string {
  return `${prefix}:${queue}:jobfleet:cancel`;
}

/** The key marking a cancel request for one job (value: JSON `{ by, at }`); in the queue's slot. */
export function cancelMarkerKey(prefix: string, queue: string, jobId: string): string {
  return `${prefix}:${queue}:jobfleet:cancel:${jobId}`;
}
