import {
  DeadLetterAlreadyRedrivenError,
  DeadLetterPayloadError,
  DeadLetterQueryError,
  type DeadLetterStore,
  DeadLetterStoreError,
  DeadLetterUnknownQueueError,
  encodeCursor,
  failureTime,
  type RedriveManyResult,
  type StoredDeadLetter,
  DeadLetterNotFoundError as StoreNotFoundError,
} from '@jobfleet/dead-letter-store';
import type { Principal } from './auth.js';
import {
  DeadLetterNotFoundError,
  DeadLetterNotRedrivableError,
  DeadLetterRedrivenError,
  invalidRequest,
} from './errors.js';
import { canSee } from './tenancy.js';

/**
 * The gateway's answer to a dead-letter store error: 404, 409, or a 400 whose
 * issues point into the request (a replacement payload's issues under
 * `/data`, a bad query argument at its name). Anything else is rethrown as is
 * (Redis errors become 503 through `usingRedis`).
 */
export function toHttpError(error: unknown, id?: string): unknown {
  if (!(error instanceof DeadLetterStoreError)) return error;
  if (error instanceof StoreNotFoundError) return new DeadLetterNotFoundError(error.id);
  if (error instanceof DeadLetterAlreadyRedrivenError) return new DeadLetterRedrivenError(error.message);
  if (error instanceof DeadLetterUnknownQueueError) return new DeadLetterNotRedrivableError(error.message);
  if (error instanceof DeadLetterPayloadError) {
    return invalidRequest(
      error.issues.map((issue) => ({ path: `/data${issue.path}`, message: issue.message })),
    );
  }
  if (error instanceof DeadLetterQueryError) {
    return invalidRequest([{ path: `/${error.field}`, message: error.message }], 'querystring');
  }
  return id === undefined ? error : new DeadLetterNotFoundError(id);
}

/** Whether a key may see a record: tenant keys only the records of jobs their tenant posted. */
export function canSeeRecord(principal: Principal, stored: StoredDeadLetter): boolean {
  return canSee(principal, { opts: stored.record.options });
}

export interface VisibleQuery {
  queue?: string | undefined;
  name?: string | undefined;
  since?: Date | undefined;
  limit: number;
  cursor?: string | undefined;
}

/**
 * A page of the records a key may see, newest first. A platform key gets the
 * store's page as is; for a tenant key, pages are read until `limit` visible
 * records are found or the records run out, and the cursor points after the
 * last record returned, so the next page neither skips nor repeats one.
 */
export async function listVisible(
  store: DeadLetterStore,
  principal: Principal,
  query: VisibleQuery,
): Promise<{ items: StoredDeadLetter[]; nextCursor: string | undefined }> {
  if (principal.tenant === undefined) return store.list(query);
  const items: StoredDeadLetter[] = [];
  let cursor = query.cursor;
  for (;;) {
    const page = await store.list({ ...query, cursor });
    for (const stored of page.items) {
      if (!canSeeRecord(principal, stored)) continue;
      items.push(stored);
      if (items.length === query.limit) {
        const score = failureTime(stored.id, stored.record);
        const more = stored !== page.items.at(-1) || page.nextCursor !== undefined;
        return {
          items,
          nextCursor: more && score !== undefined ? encodeCursor({ score, id: stored.id }) : undefined,
        };
      }
    }
    if (page.nextCursor === undefined) return { items, nextCursor: undefined };
    cursor = page.nextCursor;
  }
}

export interface BulkRedrive {
  queue?: string | undefined;
  name?: string | undefined;
  reasonContains?: string | undefined;
  limit: number;
}

/**
 * Redrives the records that match, newest first, up to `limit`. A platform
 * key uses the store's own bulk redrive; a tenant key walks the records it may
 * see and redrives them one by one (the store has no tenant filter), skipping
 * those redriven before.
 */
export async function redriveVisible(
  store: DeadLetterStore,
  principal: Principal,
  filter: BulkRedrive,
): Promise<RedriveManyResult> {
  if (principal.tenant === undefined) return store.redriveMany({ ...filter, by: principal.id });
  const result: RedriveManyResult = { redriven: 0, jobIds: [], byQueue: {}, skipped: 0 };
  const needle = filter.reasonContains?.toLowerCase();
  let cursor: string | undefined;
  do {
    const page = await listVisible(store, principal, {
      queue: filter.queue,
      name: filter.name,
      limit: 200,
      cursor,
    });
    for (const { id, record } of page.items) {
      if (record.redrive) continue;
      if (needle !== undefined && !record.failedReason.toLowerCase().includes(needle)) continue;
      try {
        const sent = await store.redrive(id, { by: principal.id });
        result.redriven += 1;
        result.jobIds.push(sent.jobId);
        result.byQueue[sent.queue] = (result.byQueue[sent.queue] ?? 0) + 1;
      } catch (error) {
        // Removed meanwhile: gone. Taken by another redrive, or a payload that no longer fits: skipped.
        if (error instanceof StoreNotFoundError) continue;
        if (!(error instanceof DeadLetterStoreError)) throw error;
        result.skipped += 1;
      }
      if (result.redriven === filter.limit) return result;
    }
    cursor = page.nextCursor;
  } while (cursor !== undefined);
  return result;
}
