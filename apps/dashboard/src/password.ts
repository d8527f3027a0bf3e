import { randomBytes, type ScryptOptions, scrypt, timingSafeEqual } from 'node:crypto';

/**
 * A password hash as stored in `DASHBOARD_USERS`:
 *
 * ```
 * scrypt$<N>$<r>$<p>$<salt, base64>$<derived key, base64>
 * ```
 *
 * `N` (cost, a power of two), `r` (block size) and `p` (parallelism) are
 * scrypt's parameters; the derived key's length is the decoded hash's length.
 * The parameters travel with the hash, so they can be raised later without
 * invalidating existing hashes.
 */
export interface PasswordHash {
  readonly cost: number;
  readonly blockSize: number;
  readonly parallelization: number;
  readonly salt: Buffer;
  readonly hash: Buffer;
}

/** What {@link hashPassword} uses: 32 MiB of memory and tens of milliseconds per hash. */
export const DEFAULT_SCRYPT_PARAMS = { cost: 2 ** 15, blockSize: 8, parallelization: 1 } as const;

/** The hash format, for messages and documentation. */
export const PASSWORD_HASH_FORMAT = 'scrypt$N$r$p$saltBase64$hashBase64';

const SALT_BYTES = 16;
const KEY_BYTES = 32;
const LIMITS = {
  cost: { min: 2 ** 14, max: 2 ** 20 },
  blockSize: { min: 1, max: 32 },
  parallelization: { min: 1, max: 16 },
  saltBytes: { min: 8, max: 64 },
  keyBytes: { min: 16, max: 64 },
};
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

function scryptAsync(password: string, salt: Buffer, keyLength: number, options: ScryptOptions) {
  return new Promise<Buffer>((resolve, reject) => {
    scrypt(password.normalize('NFC'), salt, keyLength, options, (error, key) =>
      error ? reject(error) : resolve(key),
    );
  });
}

const scryptOptions = (h: Pick<PasswordHash, 'cost' | 'blockSize' | 'parallelization'>): ScryptOptions => ({
  N: h.cost,
  r: h.blockSize,
  p: h.parallelization,
  // scrypt needs 128·N·r bytes; Node's default ceiling (32 MiB) is just too small for the default cost.
  maxmem: 256 * h.cost * h.blockSize + 1_048_576,
});

/** Thrown by {@link parsePasswordHash}; the message never contains the hash. */
export class PasswordHashFormatError extends Error {
  override readonly name = 'PasswordHashFormatError';
}

function integerIn(text: string | undefined, what: string, range: { min: number; max: number }): number {
  const value = text !== undefined && /^\d{1,8}$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(value) || value < range.min || value > range.max) {
    throw new PasswordHashFormatError(`${what} must be an integer from ${range.min} to ${range.max}`);
  }
  return value;
}

function base64In(text: string | undefined, what: string, range: { min: number; max: number }): Buffer {
  if (text === undefined || !BASE64.test(text)) throw new PasswordHashFormatError(`${what} must be base64`);
  const bytes = Buffer.from(text, 'base64');
  if (bytes.length < range.min || bytes.length > range.max) {
    throw new PasswordHashFormatError(`${what} must be ${range.min} to ${range.max} bytes`);
  }
  return bytes;
}

/** Reads a hash in {@link PASSWORD_HASH_FORMAT}; throws {@link PasswordHashFormatError} naming what is wrong. */
export function parsePasswordHash(text: string): PasswordHash {
  const parts = text.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') {
    throw new PasswordHashFormatError(`must have the form ${PASSWORD_HASH_FORMAT}`);
  }
  const cost = integerIn(parts[1], 'N', LIMITS.cost);
  if (!Number.isInteger(Math.log2(cost))) throw new PasswordHashFormatError('N must be a power of two');
  return {
    cost,
    blockSize: integerIn(parts[2], 'r', LIMITS.blockSize),
    parallelization: integerIn(parts[3], 'p', LIMITS.parallelization),
    salt: base64In(parts[4], 'the salt', LIMITS.saltBytes),
    hash: base64In(parts[5], 'the hash', LIMITS.keyBytes),
  };
}

/** Writes a hash in {@link PASSWORD_HASH_FORMAT}. */
export function formatPasswordHash(h: PasswordHash): string {
  return [
    'scrypt',
    h.cost,
    h.blockSize,
    h.parallelization,
    h.salt.toString('base64'),
    h.hash.toString('base64'),
  ].join('$');
}

/** Hashes a password with a fresh random salt. */
export async function hashPassword(
  password: string,
  params: Pick<PasswordHash, 'cost' | 'blockSize' | 'parallelization'> = DEFAULT_SCRYPT_PARAMS,
): Promise<PasswordHash> {
  const { cost, blockSize, parallelization } = params;
  const salt = randomBytes(SALT_BYTES);
  const hash = await scryptAsync(password, salt, KEY_BYTES, scryptOptions(params));
  return { cost, blockSize, parallelization, salt, hash };
}

/** Whether `password` matches `stored`; the comparison takes the same time wherever the bytes differ. */
export async function verifyPassword(stored: PasswordHash, password: string): Promise<boolean> {
  const candidate = await scryptAsync(password, stored.salt, stored.hash.length, scryptOptions(stored));
  return timingSafeEqual(candidate, stored.hash);
}
