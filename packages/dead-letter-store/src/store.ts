import {
  type CallbackReconcileOptions,
  type CallbackReconcileResult,
  reconcileCallbacks,
} from './callbacks.js';
import { type ReconcileOptions, type ReconcileResult, reconcile } from './reconcile.js';
import { DeadLetterRecords } from './records.js';
import {
  type RedriveManyFilter,
  type RedriveManyResult,
  type RedriveOptions,
  type RedriveResult,
  redrive,
  redriveMany,
} from './redrive.js';
import { type RetentionOptions, type RetentionResult, trim } from './retention.js';

/**
 * Dead-letter records in Redis: the `dead-letters` queue's jobs plus the
 * store's indexes, tombstones, cursors and locks (see `keys.ts` and the
 * README). Shared by the DLQ processor (indexing, retention, reconciliation)
 * and the gateway (list, get, remove, redrive). The records' own operations
 * come from {@link DeadLetterRecords}; redrive, retention and reconciliation
 * live in their modules, which know the records and not the store. Every
 * operation is safe to run from several processes at once.
 */
export class DeadLetterStore extends DeadLetterRecords {
  /** See {@link redrive}. */
  redrive(id: string, options: RedriveOptions): Promise<RedriveResult> {
    return redrive(this, id, options);
  }

  /** See {@link redriveMany}. */
  redriveMany(filter: RedriveManyFilter): Promise<RedriveManyResult> {
    return redriveMany(this, filter);
  }

  /** See {@link trim}. */
  trim(options: RetentionOptions): Promise<RetentionResult> {
    return trim(this, options);
  }

  /** See {@link reconcile}. */
  reconcile(options: ReconcileOptions = {}): Promise<ReconcileResult> {
    return reconcile(this, options);
  }

  /** See {@link reconcileCallbacks}. */
  reconcileCallbacks(options: CallbackReconcileOptions = {}): Promise<CallbackReconcileResult> {
    return reconcileCallbacks(this, options);
  }
}
