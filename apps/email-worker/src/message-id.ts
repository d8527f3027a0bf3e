import { createHash } from 'node:crypto';

/** Longest id-left part kept readable; longer ones are hashed. */
const MAX_READABLE = 128;

/**
 * Encodes a value as RFC 5322 `atext`, injectively: letters, digits, `_` and `-`
 * stay, every other character becomes `=XX` per UTF-8 byte (upper-case hex).
 */
function encodeAtom(value: string): string {
  let out = '';
  for (const char of value) {
    if (/^[A-Za-z0-9_-]$/.test(char)) {
      out += char;
      continue;
    }
    for (const byte of Buffer.from(char, 'utf8'))
      out += `=${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

export interface MessageIdParts {
  /** The queue, e.g. `emails`. */
  queue: string;
  /** The BullMQ job id. */
  jobId: string;
  /** When the job was created (ms): the same for every attempt, different after a Redis reset reuses ids. */
  createdAt: number;
  /** The sender's domain. */
  domain: string;
}

/**
 * The Message-ID of a job's e-mail: `<emails.<jobId>.<createdAt>@<domain>>`.
 * Derived from the job alone, so every attempt of one job (a retry, a rerun
 * after a crash) sends the same Message-ID — the outbox overwrites its file,
 * and receivers can drop the duplicate. `createdAt` keeps the id unique when
 * job ids restart (a new Redis, another environment with the same sender).
 * An id-left part over 128 characters is replaced by a SHA-256 prefix, marked
 * `=sha256-`, which the `=XX` encoding can never produce.
 */
export function messageIdFor({ queue, jobId, createdAt, domain }: MessageIdParts): string {
  const readable = `${encodeAtom(queue)}.${encodeAtom(jobId)}.${createdAt}`;
  const left =
    readable.length <= MAX_READABLE
      ? readable
      : `${encodeAtom(queue)}.=sha256-${createHash('sha256').update(`${jobId}\u0000${createdAt}`).digest('hex').slice(0, 40)}`;
  return `<${left}@${domain}>`;
}
