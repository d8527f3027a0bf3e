import { describe, expect, it } from 'vitest';
import {
  DEFAULT_SCRYPT_PARAMS,
  formatPasswordHash,
  hashPassword,
  PasswordHashFormatError,
  parsePasswordHash,
  verifyPassword,
} from '../src/password.js';

describe('password hashes', () => {
  it('are written as scrypt$N$r$p$salt$hash and read back', async () => {
    const hash = await hashPassword('s3cret');
    const text = formatPasswordHash(hash);
    expect(text).toMatch(/^scrypt\$32768\$8\$1\$[A-Za-z0-9+/]{22}==\$[A-Za-z0-9+/]{43}=$/);
    expect(parsePasswordHash(text)).toEqual(hash);
    expect(hash).toMatchObject(DEFAULT_SCRYPT_PARAMS);
  });

  it('verify the right password only, whatever the salt', async () => {
    const one = await hashPassword('pässword');
    const two = await hashPassword('pässword');
    expect(one.salt.equals(two.salt)).toBe(false);
    expect(await verifyPassword(one, 'pässword')).toBe(true);
    // Unicode normalisation: the same text typed another way still matches.
    expect(await verifyPassword(one, 'pa\u0308ssword')).toBe(true);
    expect(await verifyPassword(one, 'password')).toBe(false);
    expect(await verifyPassword(one, '')).toBe(false);
  });

  it('carry their own parameters, so stronger ones can be used later', async () => {
    const strong = await hashPassword('x', { cost: 2 ** 16, blockSize: 8, parallelization: 2 });
    const text = formatPasswordHash(strong);
    expect(text.startsWith('scrypt$65536$8$2$')).toBe(true);
    expect(await verifyPassword(parsePasswordHash(text), 'x')).toBe(true);
  });

  it('refuse malformed or weak hashes with a reason, never echoing the input', () => {
    const salt = Buffer.alloc(16, 1).toString('base64');
    const key = Buffer.alloc(32, 2).toString('base64');
    const cases: Array<[string, RegExp]> = [
      ['', /must have the form scrypt\$N\$r\$p\$saltBase64\$hashBase64/],
      [`bcrypt$16384$8$1$${salt}$${key}`, /must have the form/],
      [`scrypt$1024$8$1$${salt}$${key}`, /N must be an integer from 16384/],
      [`scrypt$20000$8$1$${salt}$${key}`, /N must be a power of two/],
      [`scrypt$16384$0$1$${salt}$${key}`, /r must be/],
      [`scrypt$16384$8$99$${salt}$${key}`, /p must be/],
      [`scrypt$16384$8$1$not*base64$${key}`, /the salt must be base64/],
      [`scrypt$16384$8$1$${salt}$AAAA`, /the hash must be 16 to 64 bytes/],
    ];
    for (const [text, reason] of cases) {
      const attempt = () => parsePasswordHash(text);
      expect(attempt, text).toThrow(PasswordHashFormatError);
      expect(attempt, text).toThrow(reason);
      if (text) {
        try {
          attempt();
        } catch (error) {
          expect((error as Error).message).not.toContain(key);
        }
      }
    }
  });
});
