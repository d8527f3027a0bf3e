import type { DeadLetter, DeadLetterStore, IndexOutcome } from '@jobfleet/dead-letter-store';
import { DeadLetterRecord, findJob, type QueueContract, validate } from '@jobfleet/queue-contracts';
import type { Logger } from '@jobfleet/service-kit';
import type { JobContext } from '@jobfleet/worker-runtime';
import { UnrecoverableError } from 'bullmq';
import type { DlqMetrics } from './metrics.js';
import type { SpikeAlert, SpikeDetector } from './spike-alerts.js';

export interface IndexerOptions {
  store: DeadLetterStore;
  metrics: DlqMetrics;
  spikes: SpikeDetector;
  logger: Logger;
  /** What to do with an alert the detector fired. */
  alert: (alert: SpikeAlert) => Promise<void>;
}

/** What a processed record job returns (kept as its BullMQ return value). */
export interface IndexResult {
  outcome: IndexOutcome;
}

/** Just enough of a record to index it; a record that breaks the contract otherwise is still indexed. */
function isIndexable(data: unknown): data is DeadLetter {
  if (!data || typeof data !== 'object') return false;
  const { queue, jobName, failedAt } = data as Record<string, unknown>;
  return (
    typeof queue === 'string' &&
    queue !== '' &&
    typeof jobName === 'string' &&
    jobName !== '' &&
    typeof failedAt === 'string' &&
    Number.isFinite(Date.parse(failedAt))
  );
}

/**
 * The handler of `dead-letter` jobs (see `deadLetterIntake`): indexes each
 * record, counts it the first time, and feeds the spike detector. Safe to run
 * twice for one record (a retry, a stalled job): indexing and the window are
 * idempotent.
 */
export function createIndexer(
  options: IndexerOptions,
): (record: unknown, context: Pick<JobContext, 'job'>) => Promise<IndexResult> {
  const { store, metrics, spikes, logger } = options;
  const label = (record: DeadLetter) => {
    const contract: QueueContract | undefined = store.contracts.get(record.queue);
    return {
      queue: record.queue,
      job_name: contract && findJob(contract, record.jobName) ? record.jobName : 'unknown',
    };
  };

  return async (record, { job }) => {
    // Records are deleted by the store's retention only, never by BullMQ's. The store writes them
    // with removeOnComplete/removeOnFail false; a record job added otherwise (with the contract's
    // 14-day options, or with none, which the runtime's worker-level defaults then fill in) would
    // otherwise make BullMQ delete older records when this job finishes.
    job.opts.removeOnComplete = false;
    job.opts.removeOnFail = false;
    const id = String(job.id);
    if (!isIndexable(record)) {
      throw new UnrecoverableError(
        'not a dead-letter record: it lacks a queue, a job name or a failure time',
      );
    }
    const check = validate(DeadLetterRecord, record);
    if (!check.ok) {
      logger.warn(
        { dead_letter_id: id, issues: check.issues.slice(0, 5) },
        'indexing a record that breaks the contract',
      );
    }
    const outcome = await store.index(id, record);
    if (outcome === 'tombstoned') {
      // The record was removed (its job came back, e.g. a replayed capture, or could not be deleted
      // while locked): BullMQ deletes the job in the same script that completes it, so it cannot
      // linger if this process dies in between.
      job.opts.removeOnComplete = true;
      return { outcome };
    }
    if (outcome === 'indexed') {
      metrics.captured.inc(label(record));
      logger.info(
        { dead_letter_id: id, queue: record.queue, job_id: record.jobId, job_name: record.jobName },
        'dead letter recorded',
      );
    }
    // Also when it was indexed before: this run may be the retry of one that died before counting it.
    try {
      const alert = await spikes.observe(id, record);
      if (alert) await options.alert(alert);
    } catch (err) {
      logger.error({ err, queue: record.queue }, 'could not evaluate or queue the spike alert');
    }
    return { outcome };
  };
}
