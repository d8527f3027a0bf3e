import { createHash, hash } from 'node:crypto';
import { TenantId, validate } from '@jobfleet/queue-contracts';
import { parseSecretJson, parseWebhookSecret } from '@jobfleet/service-kit';
import { Type } from 'typebox';
import { scopeProblem } from './scopes.js';

/**
 * One entry of `GATEWAY_API_KEYS` (or the file `GATEWAY_API_KEYS_FILE` names):
 * `{ id, key | keySha256, tenant?, scopes, rateLimit?, webhookSecret? }`. `id`
 * names the client in logs, metrics and on its jobs; `key` is the secret
 * itself, `keySha256` its hex SHA-256 (so the secret need not sit in the
 * environment); `rateLimit` (`{ max, timeWindowMs }`) overrides the gateway's
 * default budget; `webhookSecret` (`whsec_…`) signs the completion webhooks of
 * the key's jobs (the webhooks-worker reads it from the same list).
 */
export const ApiKeyEntry = Type.Object(
  {
    id: Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9._-]*$', minLength: 1, maxLength: 64 }),
    key: Type.Optional(Type.String()),
    keySha256: Type.Optional(Type.String({ pattern: '^[0-9a-fA-F]{64}$' })),
    tenant: Type.Optional(TenantId),
    scopes: Type.Array(Type.String({ minLength: 1, maxLength: 128 }), { minItems: 1, maxItems: 64 }),
    rateLimit: Type.Optional(
      Type.Object(
        {
          max: Type.Integer({ minimum: 1, maximum: 100_000_000 }),
          timeWindowMs: Type.Integer({ minimum: 1, maximum: 86_400_000 }),
        },
        { additionalProperties: false },
      ),
    ),
    webhookSecret: Type.Optional(Type.String({ maxLength: 200 })),
  },
  { additionalProperties: false },
);

/** A request budget: at most `max` requests per `timeWindowMs`. */
export interface RateLimit {
  readonly max: number;
  readonly timeWindowMs: number;
}

/** A configured API key, ready for lookups. The secret itself is not kept. */
export interface ApiKey {
  readonly id: string;
  readonly tenant: string | undefined;
  readonly scopes: ReadonlySet<string>;
  /** Its own budget; `undefined` means the gateway's default. */
  readonly rateLimit: RateLimit | undefined;
  /** Whether the entry has a `webhookSecret`, so that its jobs may ask for completion webhooks. */
  readonly signsWebhooks: boolean;
  /** SHA-256 of the secret, one character per byte. Not enumerable, so a logged key shows no digest. */
  readonly digest: string;
}

/** Shortest secret accepted in `key`: 16 characters is ~96 bits when random. */
export const MIN_KEY_LENGTH = 16;
const MAX_KEY_LENGTH = 512;
const PRINTABLE_NO_SPACE = /^[\x21-\x7E]+$/;

/**
 * SHA-256 as a one-byte-per-character string (`binary`), a Map key as it is.
 * Every request hashes its key: the one-shot `hash` (Node ≥ 20.12) costs half
 * of a Hash object, and a string digest a quarter of a Buffer one.
 */
const sha256: (text: string) => string =
  typeof hash === 'function'
    ? (text) => hash('sha256', text, 'binary')
    : (text) => createHash('sha256').update(text, 'utf8').digest('binary');

/** An entry's digest: of its `key`, or its `keySha256` (hex, either case). */
const digestOf = (entry: { key?: string; keySha256?: string }): string =>
  entry.key !== undefined ? sha256(entry.key) : Buffer.from(entry.keySha256 ?? '', 'hex').toString('binary');

function entryLabel(index: number, entry: unknown): string {
  const id = (entry as { id?: unknown } | null)?.id;
  return typeof id === 'string' && /^[\x20-\x7E]{1,64}$/.test(id)
    ? `entry ${index} (id "${id}")`
    : `entry ${index}`;
}

/** The problems of one entry, as `<pointer> <message>` texts; never quotes a secret. */
function entryProblems(entry: unknown): string[] {
  const checked = validate(ApiKeyEntry, entry);
  if (!checked.ok) return checked.issues.map((issue) => `${issue.path || '/'} ${issue.message}`);
  const { key, keySha256, scopes, webhookSecret } = entry as {
    key?: string;
    keySha256?: string;
    scopes: string[];
    webhookSecret?: string;
  };
  const problems: string[] = [];
  if (webhookSecret !== undefined) {
    try {
      parseWebhookSecret(webhookSecret);
    } catch (error) {
      problems.push(`/webhookSecret ${(error as Error).message}`);
    }
  }
  if (key === undefined && keySha256 === undefined) problems.push('needs "key" or "keySha256"');
  if (key !== undefined && keySha256 !== undefined) problems.push('has both "key" and "keySha256"; keep one');
  if (
    key !== undefined &&
    (key.length < MIN_KEY_LENGTH || key.length > MAX_KEY_LENGTH || !PRINTABLE_NO_SPACE.test(key))
  ) {
    problems.push(
      `/key must be ${MIN_KEY_LENGTH} to ${MAX_KEY_LENGTH} printable ASCII characters without spaces`,
    );
  }
  scopes.forEach((scope, i) => {
    const problem = scopeProblem(scope);
    if (problem) problems.push(`/scopes/${i} ${problem}`);
  });
  return problems;
}

/**
 * Parses and checks an API key list (the JSON text). Throws one Error whose
 * message names every bad entry by index and id; secrets never appear in it.
 */
export function parseApiKeys(json: string): ApiKey[] {
  const list = parseSecretJson(json);
  if (!Array.isArray(list)) throw new Error('must be a JSON array of {id, key|keySha256, tenant?, scopes}');
  const problems: string[] = [];
  list.forEach((entry, index) => {
    for (const problem of entryProblems(entry)) problems.push(`${entryLabel(index, entry)}: ${problem}`);
  });
  if (problems.length === 0) {
    const seenIds = new Map<string, number>();
    const seenDigests = new Map<string, number>();
    list.forEach((entry: { id: string; key?: string; keySha256?: string }, index) => {
      const digest = digestOf(entry);
      const sameId = seenIds.get(entry.id);
      if (sameId !== undefined) problems.push(`entries ${sameId} and ${index} share the id "${entry.id}"`);
      const sameSecret = seenDigests.get(digest);
      if (sameSecret !== undefined) problems.push(`entries ${sameSecret} and ${index} have the same secret`);
      seenIds.set(entry.id, index);
      seenDigests.set(digest, index);
    });
  }
  if (problems.length > 0) {
    const shown = problems.slice(0, 10);
    if (problems.length > shown.length) shown.push(`… and ${problems.length - shown.length} more`);
    throw new Error(shown.join('; '));
  }
  return list.map(
    (entry: {
      id: string;
      key?: string;
      keySha256?: string;
      tenant?: string;
      scopes: string[];
      rateLimit?: RateLimit;
      webhookSecret?: string;
    }) => {
      const digest = digestOf(entry);
      const scopes: ReadonlySet<string> = new Set(entry.scopes);
      const rateLimit = entry.rateLimit && Object.freeze({ ...entry.rateLimit });
      // Only whether there is one: the gateway never signs, so the secret is not kept.
      const signsWebhooks = entry.webhookSecret !== undefined;
      const key = { id: entry.id, tenant: entry.tenant, scopes, rateLimit, signsWebhooks };
      return Object.freeze(
        Object.defineProperty(key, 'digest', { value: digest, enumerable: false }) as ApiKey,
      );
    },
  );
}

/** The configured keys; finds the one a presented secret belongs to. */
export class ApiKeyRing {
  readonly #byDigest: ReadonlyMap<string, ApiKey>;

  constructor(keys: readonly ApiKey[]) {
    const byDigest = new Map<string, ApiKey>();
    // `parseApiKeys` refuses two keys with one secret; should a list hold them anyway, the first wins.
    for (const key of keys) {
      const { digest } = key;
      if (!byDigest.has(digest)) byDigest.set(digest, key);
    }
    this.#byDigest = byDigest;
  }

  get size(): number {
    return this.#byDigest.size;
  }

  /**
   * The key whose secret `secret` is: the secret's SHA-256 looked up among the
   * keys' digests, one lookup however many keys there are. What the lookup's
   * timing could tell is about a digest, never about a secret (a digest does
   * not lead back to its secret), so no comparison with each key's digest in
   * constant time is needed; that cost every request a compare per key.
   */
  find(secret: string): ApiKey | undefined {
    return this.#byDigest.get(sha256(secret));
  }
}
