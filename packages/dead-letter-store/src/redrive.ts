import { createHash, randomUUID } from 'node:crypto';
import { callbackOf, originOf, validateJobData, withCallback, withOrigin } from '@jobfleet/queue-contracts';
import { decodeCursor, encodeCursor, type PagePosition } from './cursor.js';
import {
  DeadLetterAlreadyRedrivenError,
  DeadLetterNotFoundError,
  DeadLetterPayloadError,
  DeadLetterQueryError,
  DeadLetterStoredPayloadError,
  DeadLetterStoreError,
  DeadLetterUnknownQueueError,
} from './errors.js';
import { entriesAfter } from './index-scan.js';
import { REDRIVE_CLAIM_FIELD } from './keys.js';
import { claimScript, finishRedriveScript, releaseClaimScript } from './lua.js';
import type { RedriveAudit, StoredDeadLetter } from './record.js';
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
  /** Only the records this accepts are redriven (the gateway: a tenant key's own); the rest count as read. */
  accept?: ((stored: StoredDeadLetter) => boolean) | undefined;
  /** At most this many are redriven: 1 to 1,000. */
  limit: number;
  /** `nextCursor` of an earlier call with the same filter: the scan goes on after where that one stopped. */
  cursor?: string | undefined;
  /** At most this many records are read in one call: 1 to {@link MAX_BULK_SCAN} (the default). */
  maxScanned?: number | undefined;
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
  /** Records read, matching or not (redriven before, other filters, removed meanwhile). */
  scanned: number;
  /**
   * Present when the scan stopped — at `limit`, or at `maxScanned` — with
   * records left to read; pass it back as `cursor` to go on from there.
   */
  nextCursor: string | undefined;
}

/** The most records one `redriveMany` call reads. */
export const MAX_BULK_SCAN = 1_000;

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
 * @throws DeadLetterPayloadError the replacement payload does not fit; nothing was enqueued
 * @throws DeadLetterStoredPayloadError no replacement, and the record's own payload does not fit
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
  if (!check.ok) {
    throw options.data === undefined
      ? new DeadLetterStoredPayloadError(id, record.jobName, check.issues)
      : new DeadLetterPayloadError(id, record.jobName, check.issues);
  }

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
  // The redriven job keeps its completion webhook: it announces its own ending, under its new id.
  const callback = callbackOf({ opts: record.options });
  const base = { ...contract.defaultJobOptions, jobId };
  const withOwner = origin ? withOrigin(base, origin) : base;
  try {
    await store
      .sourceQueue(record.queue)
      .add(record.jobName, data, callback ? withCallback(withOwner, callback) : withOwner);
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

function checkRange(field: string, value: number, max: number): void {
  if (!Number.isInteger(value) || value < 1 || value > max) {
    throw new DeadLetterQueryError(field, `must be an integer from 1 to ${max}`);
  }
}

/**
 * Redrives the records that match a filter (newest first), each as
 * {@link redrive} does with its own payload, skipping those redriven before.
 *
 * The work is bounded: it stops after `limit` redrives or `maxScanned` records
 * read, whichever comes first, and reads the index in steps of what it still
 * needs — `limit` records when the newest ones are all redrivable, a growing
 * step (never beyond `maxScanned`) while it skips. `nextCursor` tells where it
 * stopped when records are left.
 *
 * @throws DeadLetterQueryError `limit`, `maxScanned`, `cursor` or `by` out of range
 */
export async function redriveMany(
  store: DeadLetterRecords,
  filter: RedriveManyFilter,
): Promise<RedriveManyResult> {
  checkBy(filter.by);
  checkRange('limit', filter.limit, MAX_BULK);
  const maxScanned = filter.maxScanned ?? MAX_BULK_SCAN;
  checkRange('maxScanned', maxScanned, MAX_BULK_SCAN);
  let position: PagePosition | undefined =
    filter.cursor === undefined ? undefined : decodeCursor(filter.cursor);
  const needle = filter.reasonContains?.toLowerCase();
  const key = store.indexFor(filter);
  const min = Number.NEGATIVE_INFINITY;
  const result: RedriveManyResult = {
    redriven: 0,
    jobIds: [],
    byQueue: {},
    skipped: 0,
    scanned: 0,
    nextCursor: undefined,
  };
  const done = () => result.redriven === filter.limit || result.scanned === maxScanned;

  while (!done()) {
    // What is still needed; after skips, as many again as read so far (few round trips, bounded reads).
    const step = Math.min(
      maxScanned - result.scanned,
      Math.max(filter.limit - result.redriven, result.scanned),
    );
    const entries = await entriesAfter(store.client, key, min, position, step);
    const loaded = await store.load(entries.map((entry) => entry.id));
    for (const [i, entry] of entries.entries()) {
      if (done()) {
        result.nextCursor = position && encodeCursor(position);
        return result;
      }
      position = entry;
      result.scanned += 1;
      const record = loaded[i];
      if (!record || auditOf(record) || record.claim) continue;
      if (needle !== undefined && !record.record.failedReason.toLowerCase().includes(needle)) continue;
      if (filter.accept && !filter.accept({ id: record.id, record: record.record })) continue;
      try {
        const sent = await redriveLoaded(store, record, { by: filter.by });
        result.redriven += 1;
        result.jobIds.push(sent.jobId);
        result.byQueue[sent.queue] = (result.byQueue[sent.queue] ?? 0) + 1;
      } catch (error) {
        // Removed meanwhile: gone. Taken by another redrive, a payload or queue that no longer fits: skipped.
        if (error instanceof DeadLetterNotFoundError) continue;
        if (!(error instanceof DeadLetterStoreError)) throw error;
        result.skipped += 1;
      }
    }
    if (entries.length < step) return result;
  }
  // Stopped at the end of a step: a cursor only if records follow.
  if (position && (await entriesAfter(store.client, key, min, position, 1)).length > 0) {
    result.nextCursor = encodeCursor(position);
  }
  return result;
}
