import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig } from '@jobfleet/service-kit';
import { afterAll, describe, expect, it } from 'vitest';
import { ApiKeyRing, parseApiKeys } from '../src/api-keys.js';
import { buildGateway } from '../src/app.js';
import { resolveAuth } from '../src/auth.js';
import { gatewayConfig } from '../src/config.js';
import { grants } from '../src/scopes.js';
import { KEY_LIST, SECRETS, sha256Hex } from './helpers.js';

const SECRET = 'super-secret-value-0123456789';
const dir = mkdtempSync(join(tmpdir(), 'gateway-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The ConfigError `loadConfig` throws for `env`, or a failure if it does not throw. */
function configError(env: Record<string, string>): ConfigError {
  try {
    loadConfig(gatewayConfig, env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

const keys = (list: unknown) => ({ GATEWAY_API_KEYS: JSON.stringify(list) });

describe('gateway config', () => {
  it('has the documented defaults', () => {
    const config = loadConfig(gatewayConfig, {});
    expect(config).toMatchObject({
      port: 3000,
      host: '0.0.0.0',
      gatewayAuth: 'enabled',
      bodyLimitBytes: 1_048_576,
      redisUrl: 'redis://127.0.0.1:6379',
      jobfleetPrefix: 'jobfleet',
      idempotencyTtl: 86_400_000,
      rateLimitMax: 100,
      rateLimitWindowMs: 1_000,
      rateLimitCountWaitMs: 100,
      pressureMaxEventLoopDelayMs: 1_000,
      pressureMaxEventLoopUtilization: 0,
      pressureMaxHeapUsedBytes: 0,
      pressureSampleIntervalMs: 1_000,
      queueMetricsCacheMs: 5_000,
    });
    expect(config.gatewayApiKeys).toBeUndefined();
    expect(config.gatewayApiKeysFile).toBeUndefined();
  });

  it('parses a key list: key and keySha256 entries, tenants, scopes', () => {
    const config = loadConfig(gatewayConfig, keys(KEY_LIST));
    const list = config.gatewayApiKeys ?? [];
    expect(list.map((k) => [k.id, k.tenant])).toEqual(KEY_LIST.map((k) => [k.id, k.tenant]));
    const ring = new ApiKeyRing(list);
    expect(ring.find(SECRETS.hashed)?.id).toBe('hashed-reader');
    expect(ring.find(SECRETS.signup)?.id).toBe('signup-service');
    expect(ring.find(`${SECRETS.signup}x`)).toBeUndefined();
    // Neither the secret nor its digest shows when a key is logged or serialised.
    expect(JSON.stringify(list)).not.toContain(SECRETS.signup);
    expect(JSON.stringify(list)).not.toContain(sha256Hex(SECRETS.signup));
  });

  it('finds each of many keys by its secret, a keySha256 in upper-case hex too', () => {
    const secretOf = (i: number) => `team-${i}-secret-0123456789abcdef`;
    const list = parseApiKeys(
      JSON.stringify(
        Array.from({ length: 500 }, (_, i) =>
          i % 2 === 0
            ? { id: `team-${i}`, key: secretOf(i), scopes: ['emails:enqueue'] }
            : { id: `team-${i}`, keySha256: sha256Hex(secretOf(i)).toUpperCase(), scopes: ['emails:read'] },
        ),
      ),
    );
    const ring = new ApiKeyRing(list);
    expect(ring.size).toBe(500);
    for (const i of [0, 1, 2, 250, 499]) expect(ring.find(secretOf(i))?.id).toBe(`team-${i}`);
    // A secret's digest, or a near miss, is no secret.
    expect(ring.find(sha256Hex(secretOf(0)))).toBeUndefined();
    expect(ring.find(`${secretOf(7)} `)).toBeUndefined();
    expect(ring.find('')).toBeUndefined();
  });

  it('bad JSON: one error naming the variable, without echoing the secret', () => {
    const error = configError({ GATEWAY_API_KEYS: `[{"id":"a","key":"${SECRET}"` });
    expect(error.issues).toHaveLength(1);
    expect(error.issues[0]).toMatch(/^GATEWAY_API_KEYS: is not valid JSON/);
    expect(error.message).not.toContain(SECRET);
  });

  it('not an array', () => {
    expect(configError(keys({ id: 'a' })).issues[0]).toMatch(/GATEWAY_API_KEYS: must be a JSON array/);
  });

  it('an entry without key names the entry', () => {
    const error = configError(
      keys([
        { id: 'ok', key: SECRET, scopes: ['admin'] },
        { id: 'signup', scopes: ['admin'] },
      ]),
    );
    expect(error.issues).toEqual(['GATEWAY_API_KEYS: entry 1 (id "signup"): needs "key" or "keySha256"']);
  });

  it('an unknown scope shape names the entry and the scope', () => {
    const error = configError(
      keys([{ id: 'signup', key: SECRET, scopes: ['emails:enqueue', 'emails:send'] }]),
    );
    expect(error.issues).toHaveLength(1);
    expect(error.issues[0]).toContain('entry 0 (id "signup"): /scopes/1 "emails:send" is not a scope');
    expect(error.message).not.toContain(SECRET);
  });

  it('a scope for an unknown queue is refused', () => {
    const error = configError(keys([{ id: 'signup', key: SECRET, scopes: ['emials:enqueue'] }]));
    expect(error.issues[0]).toContain('"emials:enqueue" names no known queue');
  });

  it('reports every bad entry at once, and never a secret', () => {
    const error = configError(
      keys([
        { id: 'short', key: 'tiny', scopes: ['admin'] },
        { id: 'both', key: SECRET, keySha256: sha256Hex('x'), scopes: ['admin'] },
        { id: 'badhash', keySha256: 'abc', scopes: ['admin'] },
        { id: 'extra', key: `${SECRET}2`, scopes: ['admin'], secret: 'x' },
        { id: 'noscopes', key: `${SECRET}3`, scopes: [] },
        { id: 'Bad Tenant', key: `${SECRET}4`, scopes: ['admin'], tenant: 'ACME!' },
      ]),
    );
    const text = error.issues.join('\n');
    expect(error.issues).toHaveLength(1);
    expect(text).toContain('entry 0 (id "short"): /key must be 16 to 512');
    expect(text).toContain('entry 1 (id "both"): has both "key" and "keySha256"');
    expect(text).toContain('entry 2 (id "badhash"): /keySha256');
    expect(text).toContain('entry 3 (id "extra"): /secret is not an allowed property');
    expect(text).toContain('entry 4 (id "noscopes"): /scopes');
    expect(text).toContain('entry 5');
    expect(text).toContain('/tenant');
    expect(text).not.toContain(SECRET);
    expect(text).not.toContain('tiny');
  });

  it('refuses duplicate ids and duplicate secrets', () => {
    const error = configError(
      keys([
        { id: 'a', key: SECRET, scopes: ['admin'] },
        { id: 'a', key: `${SECRET}x`, scopes: ['admin'] },
        { id: 'b', keySha256: sha256Hex(SECRET), scopes: ['admin'] },
      ]),
    );
    expect(error.issues[0]).toContain('entries 0 and 1 share the id "a"');
    expect(error.issues[0]).toContain('entries 0 and 2 have the same secret');
  });

  it('reads GATEWAY_API_KEYS_FILE, and names a missing or bad file', () => {
    const file = join(dir, 'keys.json');
    writeFileSync(file, JSON.stringify(KEY_LIST));
    const config = loadConfig(gatewayConfig, { GATEWAY_API_KEYS_FILE: file });
    expect(config.gatewayApiKeysFile?.map((k) => k.id)).toEqual(KEY_LIST.map((k) => k.id));

    expect(configError({ GATEWAY_API_KEYS_FILE: `${file}.missing` }).issues[0]).toMatch(
      /^GATEWAY_API_KEYS_FILE: cannot read the key file: ENOENT/,
    );
    writeFileSync(file, `[{"id":"x","key":"${SECRET}","scopes":["nope"]}]`);
    const bad = configError({ GATEWAY_API_KEYS_FILE: file });
    expect(bad.issues[0]).toContain('entry 0 (id "x"): /scopes/0 "nope" is not a scope');
    expect(bad.message).not.toContain(SECRET);
  });

  it('checks the other values', () => {
    const error = configError({
      PORT: '70000',
      GATEWAY_AUTH: 'off',
      BODY_LIMIT_BYTES: 'lots',
      IDEMPOTENCY_TTL: 'forever',
      RATE_LIMIT_MAX: '0',
      PRESSURE_MAX_EVENT_LOOP_UTILIZATION: '1.5',
    });
    expect(error.issues.map((i) => i.split(':')[0])).toEqual([
      'PORT',
      'GATEWAY_AUTH',
      'BODY_LIMIT_BYTES',
      'IDEMPOTENCY_TTL',
      'RATE_LIMIT_MAX',
      'PRESSURE_MAX_EVENT_LOOP_UTILIZATION',
    ]);
  });

  it('reads durations with units, and a per-key rate limit', () => {
    const config = loadConfig(gatewayConfig, {
      IDEMPOTENCY_TTL: '2h',
      RATE_LIMIT_WINDOW_MS: '1m',
      ...keys([{ id: 'a', key: SECRET, scopes: ['admin'], rateLimit: { max: 5, timeWindowMs: 10_000 } }]),
    });
    expect(config.idempotencyTtl).toBe(7_200_000);
    expect(config.rateLimitWindowMs).toBe(60_000);
    expect(config.gatewayApiKeys?.[0]?.rateLimit).toEqual({ max: 5, timeWindowMs: 10_000 });
    const bad = configError(keys([{ id: 'a', key: SECRET, scopes: ['admin'], rateLimit: { max: 0 } }]));
    expect(bad.issues[0]).toContain('entry 0 (id "a"): /rateLimit');
  });
});

describe('resolveAuth / buildGateway without keys', () => {
  // Nothing listens there: the refusal must come before any connection is tried.
  const unreachable = { REDIS_URL: 'redis://127.0.0.1:1' };

  it('refuses to start without keys while auth is enabled', async () => {
    const config = loadConfig(gatewayConfig, { ...unreachable, LOG_LEVEL: 'silent' });
    await expect(buildGateway({ config })).rejects.toThrow(/GATEWAY_API_KEYS: no API keys configured/);
    expect(() => resolveAuth(loadConfig(gatewayConfig, keys([])))).toThrow(ConfigError);
  });

  it('refuses two key sources', () => {
    const file = join(dir, 'both.json');
    writeFileSync(file, JSON.stringify(KEY_LIST));
    const config = loadConfig(gatewayConfig, { ...keys(KEY_LIST), GATEWAY_API_KEYS_FILE: file });
    expect(() => resolveAuth(config)).toThrow(/both are set/);
  });
});

describe('scopes', () => {
  const set = (...s: string[]) => new Set(s);
  it('grants by exact scope, wildcard and admin; * does not reach the dead letters', () => {
    expect(grants(set('emails:enqueue'), 'emails', 'enqueue')).toBe(true);
    expect(grants(set('emails:enqueue'), 'emails', 'read')).toBe(false);
    expect(grants(set('emails:enqueue'), 'reports', 'enqueue')).toBe(false);
    expect(grants(set('*:read'), 'reports', 'read')).toBe(true);
    expect(grants(set('*:manage'), 'dead-letters', 'manage')).toBe(false);
    expect(grants(set('dead-letters:manage'), 'dead-letters', 'manage')).toBe(true);
    expect(grants(set('admin'), 'dead-letters', 'manage')).toBe(true);
    expect(grants(set('emails:manage'), 'emails', 'read')).toBe(false);
  });

  it('parseApiKeys accepts every documented scope shape', () => {
    const scopes = [
      'emails:enqueue',
      'reports:read',
      'emails:manage',
      '*:read',
      'dead-letters:manage',
      'admin',
    ];
    expect(parseApiKeys(JSON.stringify([{ id: 'all', key: SECRET, scopes }]))[0]?.scopes).toEqual(
      new Set(scopes),
    );
  });
});
