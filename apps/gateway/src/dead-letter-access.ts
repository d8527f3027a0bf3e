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
  DeadLetterStoredPayloadError as StoredPayloadError,
  DeadLetterNotFoundError as StoreNotFoundError,
} from '@jobfleet/dead-letter-store';
import type { Principal } from './auth.js';
import {
  DeadLetterNotFoundError,
  DeadLetterNotRedrivableError,
  DeadLetterRedrivenError,
  DeadLetterStoredPayloadError,
  invalidRequest,
  withIssues,
} from './errors.js';
import { canSee } from './tenancy.js';

/**
 * The gateway's answer to a dead-letter store error: 404, 409, or a 400 whose
 * issues point into the request (a replacement payload's issues under
 * `/data`, a bad argument at its name in `part`). A stored payload that no
 * longer fits is a 409 whose issues point into the record (its `data`).
 * Anything else is rethrown as is (Redis errors become 503 through `usingRedis`).
 */
export function toHttpError(
  error: unknown,
  id?: string,
  part: 'querystring' | 'body' = 'querystring',
): unknown {
  if (!(error instanceof DeadLetterStoreError)) return error;
  if (error instanceof StoreNotFoundError) return new DeadLetterNotFoundError(error.id);
  if (error instanceof DeadLetterAlreadyRedrivenError) return new DeadLetterRedrivenError(error.message);
  if (error instanceof DeadLetterUnknownQueueError) return new DeadLetterNotRedrivableError(error.message);
  if (error instanceof DeadLetterPayloadError) {
    return invalidRequest(
      error.issues.map((issue) => ({ path: `/data${issue.path}`, message: issue.message })),
    );
  }
  if (error instanceof StoredPayloadError) {
    return withIssues(
      new DeadLetterStoredPayloadError(error.message),
      error.issues.map((issue) => ({ path: `/data${issue.path}`, message: issue.message })),
    );
  }
  if (error instanceof DeadLetterQueryError) {
    return invalidRequest([{ path: `/${error.field}`, message: error.message }], part);
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
  cursor?: string | undefined;
}

/**
 * Redrives the records that match, newest first, up to `limit`, with the
 * store's bounded bulk redrive (see `redriveMany`); a tenant key's request
 * passes over the records of other tenants.
 */
export function redriveVisible(
  store: DeadLetterStore,
  principal: Principal,
  filter: BulkRedrive,
): Promise<RedriveManyResult> {
  const accept =
    principal.tenant === undefined
      ? undefined
      : (stored: StoredDeadLetter) => canSeeRecord(principal, stored);
  return store.redriveMany({ ...filter, by: principal.id, accept });
}
