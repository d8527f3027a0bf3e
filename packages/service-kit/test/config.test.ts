import { describe, expect, it } from 'vitest';
import { ConfigError, commonConfig, env, loadConfig } from '../src/index.js';

describe('loadConfig', () => {
  it('applies defaults and camel-cases keys into a frozen object', () => {
    const config = loadConfig(commonConfig, {});
    expect(config).toMatchObject({
      redisUrl: 'redis://127.0.0.1:6379',
      jobfleetPrefix: 'jobfleet',
      logLevel: 'info',
      shutdownTimeoutMs: 30_000,
      metricsToken: undefined,
    });
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('names every bad key in one error, without echoing secrets', () => {
    const spec = { ...commonConfig, PORT: env.integer({ default: 3000, min: 1, max: 65_535 }) };
    let error: unknown;
    try {
      loadConfig(spec, {
        REDIS_URL: 'http://user:hunter2@example.com',
        PORT: 'eighty',
        SHUTDOWN_TIMEOUT_MS: '-5',
        LOG_LEVEL: 'loud',
      });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const { issues, message } = error as ConfigError;
    expect(issues.map((i) => i.split(':')[0])).toEqual([
      'REDIS_URL',
      'LOG_LEVEL',
      'SHUTDOWN_TIMEOUT_MS',
      'PORT',
    ]);
    expect(message).not.toContain('hunter2');
    expect(message).toContain('PORT: must be an integer from 1 to 65535 (got "eighty")');
  });

  it('reads durations as milliseconds or with a unit', () => {
    const spec = { D: env.duration() };
    expect(loadConfig(spec, { D: '1500' }).d).toBe(1500);
    expect(loadConfig(spec, { D: '5m' }).d).toBe(300_000);
    expect(loadConfig(spec, { D: '2.5s' }).d).toBe(2_500);
    expect(() => loadConfig(spec, { D: '5 minutes' })).toThrow(ConfigError);
    expect(() => loadConfig(spec, {})).toThrow(/D: is required/);
  });

  it('reads booleans, enums and optional strings', () => {
    const spec = {
      FLAG: env.boolean({ default: false }),
      MODE: env.oneOf(['a', 'b'] as const),
      NOTE: env.optionalString(),
    };
    expect(loadConfig(spec, { FLAG: 'yes', MODE: 'b' })).toEqual({ flag: true, mode: 'b', note: undefined });
    expect(() => loadConfig(spec, { FLAG: 'maybe', MODE: 'c' })).toThrow(
      /FLAG: must be true or false[\s\S]*MODE: must be one of a, b/,
    );
  });
});
