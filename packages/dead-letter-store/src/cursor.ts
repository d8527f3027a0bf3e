import { DeadLetterQueryError } from './errors.js';

/** Where a page ended: the last record's failure time and id (the index's own order). */
export interface PagePosition {
  score: number;
  id: string;
}

/** An opaque, URL-safe cursor for the page after `position`. */
export function encodeCursor(position: PagePosition): string {
  return Buffer.from(JSON.stringify([position.score, position.id]), 'utf8').toString('base64url');
}

/** Reads a cursor made by {@link encodeCursor}; anything else is a {@link DeadLetterQueryError}. */
export function decodeCursor(cursor: string): PagePosition {
  const invalid = () => new DeadLetterQueryError('cursor', 'is not a cursor this API returned');
  if (cursor.length > 2_048 || !/^[A-Za-z0-9_-]+$/.test(cursor)) throw invalid();
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw invalid();
  }
  if (!Array.isArray(value) || value.length !== 2) throw invalid();
  const [score, id] = value as [unknown, unknown];
  if (typeof score !== 'number' || !Number.isSafeInteger(score) || typeof id !== 'string' || id === '') {
    throw invalid();
  }
  return { score, id };
}
