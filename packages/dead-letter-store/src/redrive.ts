import { createHash, randomUUID } from 'node:crypto';
import { originOf, validateJobData, withOrigin } from '@jobfleet/queue-contracts';
import {
  DeadLetterAlreadyRedrivenError,
  DeadLetterNotFoundError,
  DeadLetterPayloadError,
  DeadLetterQueryError,
  DeadLetterStoreError,
  DeadLetterUnknownQueueError,
} from './errors.js';
import { scanNewestFirst } from './index-scan.js';
import { REDRIVE_CLAIM_FIELD } from './keys.js';
import { claimScript, finishRedriveScript, releaseClaimScript } from './lua.js';
import type { RedriveAudit } from './record.js';
import type { DeadLetterRecords, LoadedDeadLetter, RedriveClaim } from './records.js';

export interface RedriveOptions {
  /** Who redrives (the API key's id); kept in the record's audit entry. 1–128 characters. */
  by: string;
  /** A replacement payload; without it the record's own payload is sent again. */
  data?: unknown;
}

export interface RedriveResult {
  /** The record's id. */
  id: string;
  queue: string;
  jobName: string;
  /** The id of the new job in the source queue. */
  jobId: string;
  /** The audit entry now kept in the record. */
  redrive: RedriveAudit;
}

export interface RedriveManyFilter {
  queue?: string | undefined;
  name?: string | undefined;
  /** Keeps records whose failure reason contains this text (case-insensitive). */
  reasonContains?: string | undefined;
  /** At most this many are redriven: 1 to 1,000. */
  limit: number;
  by: string;
}

export interface RedriveManyResult {
  /** How many records were sent back. */
  redriven: number;
  /** The new jobs' ids, in the order they were added. */
  jobIds: string[];
  /** How many were sent back to each source queue (for `jobfleet_dead_letter_redrives_total{queue}`). */
  byQueue: Record<string, number>;
  /**
   * Records that matched but were not sent: their payload no longer fits the
   * contract, their queue has none, or another redrive took them first.
   */
  skipped: number;
}

const MAX_BY_LENGTH = 128;
const MAX_BULK = 1_000;
const MAX_READABLE_JOB_ID = 256;

function checkBy(by: string): void {
  if (typeof by !== 'string' || by.length === 0 || by.length > MAX_BY_LENGTH) {
    throw new DeadLetterQueryError('by', `must be a string of 1 to ${MAX_BY_LENGTH} characters`);
  }
}

/**
 * The new job's id: derived from the record, so a redrive that is retried
 * after its process died adds the same job (BullMQ ignores an existing id)
 * rather than a second one. Never an integer and never with `:`.
 */
export function redriveJobId(recordId: string): string {
  const readable = `redrive.${recordId}`;
  if (readable.length <= MAX_READABLE_JOB_ID && !readable.includes(':')) return readable;
  return `redrive.${createHash('sha256').update(recordId).digest('hex').slice(0, 40)}`;
}

function auditOf(loaded: LoadedDeadLetter): RedriveAudit | undefined {
  if (loaded.record.redrive) return loaded.record.redrive;
  const claim = loaded.claim;
  return claim?.state === 'done' ? { by: claim.by, at: claim.at, jobId: claim.jobId } : undefined;
}

/**
 * Sends a record back to its source queue as a new job: the replacement
 * payload (or the record's own) is checked against the contract first; the
 * job gets the contract's default options (fresh attempts) and the original
 * origin; the record keeps an audit entry. A record is redriven once: the
 * claim is atomic, so of two simultaneous redrives one adds the job and the
 * other fails with {@link DeadLetterAlreadyRedrivenError}.
 *
 * @throws DeadLetterNotFoundError no such record
 * @throws DeadLetterAlreadyRedrivenError redriven before, or being redriven now
 * @throws DeadLetterUnknownQueueError the record's queue has no contract here
 * @throws DeadLetterPayloadError the payload does not fit; nothing was enqueued
 * @throws DeadLetterQueryError `by` is empty or too long
 */
export async function redrive(
  store: DeadLetterRecords,
  id: string,
  options: RedriveOptions,
): Promise<RedriveResult> {
  checkBy(options.by);
  const [loaded] = await store.load([id]);
  if (!loaded) throw new DeadLetterNotFoundError(id);
  return redriveLoaded(store, loaded, options);
}

async function redriveLoaded(
  store: DeadLetterRecords,
  loaded: LoadedDeadLetter,
  options: RedriveOptions,
): Promise<RedriveResult> {
  const { id, record } = loaded;
  const previous = auditOf(loaded);
  if (previous) throw new DeadLetterAlreadyRedrivenError(id, previous);
  const contract = store.contracts.get(record.queue);
  if (!contract) throw new DeadLetterUnknownQueueError(id, record.queue);
  const data = options.data === undefined ? record.data : options.data;
  const check = validateJobData(contract, record.jobName, data);
  if (!check.ok) throw new DeadLetterPayloadError(id, record.jobName, check.issues);

  const jobId = redriveJobId(id);
  const at = new Date();
  const token = randomUUID();
  const audit: RedriveAudit = { by: options.by, at: at.toISOString(), jobId };
  const claim: RedriveClaim = { state: 'pending', token, claimedAt: at.getTime(), ...audit };
  const jobKey = store.keys.job(id);
  const claimed = (await claimScript.run(
    store.client,
    [jobKey, store.keys.tombstones(record.queue)],
    [id, JSON.stringify(claim), at.getTime(), store.redriveStaleAfterMs, REDRIVE_CLAIM_FIELD],
  )) as [string, string?];
  if (claimed[0] === 'missing') throw new DeadLetterNotFoundError(id);
  if (claimed[0] === 'taken') {
    const other = JSON.parse(claimed[1] ?? '{}') as Partial<RedriveClaim>;
    const earlier =
      other.state === 'done' && other.by && other.at && other.jobId
        ? { by: other.by, at: other.at, jobId: other.jobId }
        : undefined;
    throw new DeadLetterAlreadyRedrivenError(id, earlier);
  }

  const origin = originOf({ opts: record.options });
  const base = { ...contract.defaultJobOptions, jobId };
  try {
    await store.sourceQueue(record.queue).add(record.jobName, data, origin ? withOrigin(base, origin) : base);
  } catch (error) {
    await releaseClaimScript.run(store.client, [jobKey], [token, REDRIVE_CLAIM_FIELD]).catch(() => {});
    throw error;
  }
  // 'lost' only when the record was removed meanwhile: the job is sent all the same.
  await finishRedriveScript.run(
    store.client,
    [jobKey],
    [token, JSON.stringify(audit), JSON.stringify({ state: 'done', ...audit }), REDRIVE_CLAIM_FIELD],
  );
  return { id, queue: record.queue, jobName: record.jobName, jobId, redrive: audit };
}

/**
 * Redrives the records that match a filter (newest first), each as
 * {@link redrive} does with its own payload, skipping those redriven before.
 * Stops after `limit` redrives.
 */
export async function redriveMany(
  store: DeadLetterRecords,
  filter: RedriveManyFilter,
): Promise<RedriveManyResult> {
  checkBy(filter.by);
  if (!Number.isInteger(filter.limit) || filter.limit < 1 || filter.limit > MAX_BULK) {
    throw new DeadLetterQueryError('limit', `must be an integer from 1 to ${MAX_BULK}`);
  }
  const needle = filter.reasonContains?.toLowerCase();
  const result: RedriveManyResult = { redriven: 0, jobIds: [], byQueue: {}, skipped: 0 };
  const key = store.indexFor(filter);
  for await (const entries of scanNewestFirst(store.client, key, Number.NEGATIVE_INFINITY, undefined, 200)) {
    const loaded = await store.load(entries.map((e) => e.id));
    for (const record of loaded) {
      if (!record || auditOf(record) || record.claim) continue;
      if (needle !== undefined && !record.record.failedReason.toLowerCase().includes(needle)) continue;
      try {
        const sent = await redriveLoaded(store, record, { by: filter.by });
        result.redriven += 1;
        result.jobIds.push(sent.jobId);
        result.byQueue[sent.queue] = (result.byQueue[sent.queue] ?? 0) + 1;
      } catch (error) {
        if (!(error instanceof DeadLetterStoreError)) throw error;
        result.skipped += 1;
      }
      if (result.redriven === filter.limit) return result;
    }
  }
  return result;
}
