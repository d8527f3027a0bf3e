import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * A development secret (API key, password, session secret), kept in `path` so
 * it stays the same across restarts.
 */
export function developmentSecret(
  path: string,
  prefix = '',
  encoding: 'base64url' | 'base64' = 'base64url',
): string {
  if (existsSync(path)) {
    const saved = readFileSync(path, 'utf8').trim();
    if (saved) return saved;
  }
  const secret = `${prefix}${randomBytes(24).toString(encoding)}`;
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `${secret}\n`, { mode: 0o600 });
  return secret;
}
