import { describe, expect, it } from 'vitest';
import { ConfigError, commonConfig, documented, env, formatDuration, loadConfig } from '../src/index.js';

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

  it("documents a reader's default as a value it parses back, and keeps parsing unchanged", () => {
    const spec = {
      WAIT: env.duration({ default: 90_000, doc: 'how long' }),
      SHORT: env.duration({ default: 1_500 }),
      COUNT: env.integer({ default: 3 }),
      ON: env.boolean({ default: false }),
      MODE: env.oneOf(['a', 'b'], { default: 'b' }),
      TOKEN: env.optionalString({ secret: true, doc: 'a token', example: '<token>' }),
    };
    expect(spec.WAIT).toMatchObject({ doc: 'how long', defaultText: '90s' });
    expect(spec.TOKEN).toMatchObject({ doc: 'a token', example: '<token>' });
    expect(spec.TOKEN.defaultText).toBeUndefined();
    const parsedBack = Object.fromEntries(
      Object.entries(spec).flatMap(([key, variable]) =>
        variable.defaultText === undefined ? [] : [[key, variable.defaultText]],
      ),
    );
    expect(parsedBack).toEqual({ WAIT: '90s', SHORT: '1500ms', COUNT: '3', ON: 'false', MODE: 'b' });
    expect(loadConfig(spec, parsedBack)).toEqual(loadConfig(spec, {}));

    const described = documented(env.integer({ min: 1, max: 5 }), { doc: 'a number' });
    expect(described.doc).toBe('a number');
    expect(described.parse('5')).toBe(5);
    expect(() => described.parse('6')).toThrow('must be an integer from 1 to 5');
  });

  it('writes durations in the largest exact unit', () => {
    expect([0, 250, 1_000, 90_000, 3_600_000, 8 * 86_400_000, 1_500].map(formatDuration)).toEqual([
      '0',
      '250ms',
      '1s',
      '90s',
      '1h',
      '8d',
      '1500ms',
    ]);
  });

  it('documents every key every process reads', () => {
    for (const [key, variable] of Object.entries(commonConfig)) expect(variable.doc, key).toBeTruthy();
  });
});
