import { readFileSync } from 'node:fs';

/**
 * Environment configuration: each app declares its keys once with these
 * readers, and `loadConfig` validates them all, reporting every bad key in one
 * error, and returns a frozen camel-cased object.
 */

export interface EnvVar<T> {
  /** Parses a raw value; throws an Error whose message says what was expected. */
  parse(raw: string): T;
  /** Used when the variable is unset or empty; `undefined` makes the key required. */
  fallback?: () => T;
  /** Whether a value is a secret, so error messages never echo it (and docs show no real value). */
  secret?: boolean;
  /**
   * What the key does, for people: one or two sentences, shown in the app's
   * `.env.example` and the README's configuration tables (`pnpm docs:config`).
   */
  doc?: string;
  /**
   * The default as written in `.env.example`, a value `parse` accepts. The
   * readers below set it from `default`; a hand-written `fallback` that computes
   * its value sets it by hand. For a key whose fallback is `undefined`, what
   * applies when it is unset (e.g. a default derived elsewhere).
   */
  defaultText?: string;
  /** A sample value for a key without a default, shown commented out; a secret's shows only placeholders (`<token>`). */
  example?: string;
}

/** The documentation fields of an {@link EnvVar}. */
export type EnvDoc = Pick<EnvVar<unknown>, 'doc' | 'defaultText' | 'example'>;

/** `variable` with its documentation; parsing and fallback unchanged. */
export function documented<V extends EnvVar<unknown>>(variable: V, docs: EnvDoc): V {
  return { ...variable, ...docs };
}

type CamelCase<S extends string> = S extends `${infer Head}_${infer Tail}`
  ? `${Lowercase<Head>}${Capitalize<CamelCase<Tail>>}`
  : Lowercase<S>;

type Optional<T> = { fallback: () => T | undefined };

export type ConfigOf<S extends Record<string, EnvVar<unknown>>> = Readonly<{
  [K in keyof S & string as CamelCase<K>]: S[K] extends EnvVar<infer T> ? T : never;
}>;

/** Thrown by {@link loadConfig}; `issues` holds one line per bad key. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(readonly issues: string[]) {
    super(`invalid configuration:\n  ${issues.join('\n  ')}`);
  }
}

export function camelCase(key: string): string {
  return key.toLowerCase().replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

/**
 * Checks that span several keys, attached to a spec under this symbol (object
 * spread keeps it, so `{ ...commonConfig, ...own }` carries common's checks).
 * Each gets the raw environment and returns one line per problem.
 */
export const configChecks: unique symbol = Symbol('jobfleet.configChecks');

export type ConfigCheck = (env: Readonly<Record<string, string | undefined>>) => string[];

/** `spec` with `checks` attached (at run time only: the spec's type stays the plain key map). */
export function withChecks<S extends Record<string, EnvVar<unknown>>>(
  spec: S,
  checks: readonly ConfigCheck[],
): S {
  return Object.assign(spec, { [configChecks]: checks });
}

/** Validates `env` against `spec`; throws one {@link ConfigError} naming every bad key. */
export function loadConfig<S extends Record<string, EnvVar<unknown>>>(
  spec: S,
  env: Record<string, string | undefined> = process.env,
): ConfigOf<S> {
  const issues: string[] = [];
  const out: Record<string, unknown> = {};
  for (const [key, variable] of Object.entries(spec)) {
    const raw = env[key]?.trim();
    try {
      if (raw === undefined || raw === '') {
        if (!variable.fallback) throw new Error('is required');
        out[camelCase(key)] = variable.fallback();
      } else {
        out[camelCase(key)] = variable.parse(raw);
      }
    } catch (error) {
      const shown = raw && !variable.secret ? ` (got ${JSON.stringify(raw.slice(0, 80))})` : '';
      issues.push(`${key}: ${(error as Error).message}${shown}`);
    }
  }
  const checks = (spec as { [configChecks]?: readonly ConfigCheck[] })[configChecks] ?? [];
  for (const check of checks) issues.push(...check(env));
  if (issues.length > 0) throw new ConfigError(issues);
  return Object.freeze(out) as ConfigOf<S>;
}

/** How a reader's options document its key. */
interface DocOptions {
  doc?: string;
  example?: string;
}

const docsOf = (options: DocOptions): EnvDoc => ({
  ...(options.doc === undefined ? {} : { doc: options.doc }),
  ...(options.example === undefined ? {} : { example: options.example }),
});

const withDefault = <T>(
  variable: EnvVar<T>,
  value: T | undefined,
  options: DocOptions,
  show: (value: T) => string = String,
): EnvVar<T> =>
  value === undefined
    ? { ...variable, ...docsOf(options) }
    : { ...variable, ...docsOf(options), fallback: () => value, defaultText: show(value) };

const DAY_MS = 86_400_000;
const UNITS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: DAY_MS };

/** Milliseconds in the largest unit that states them exactly (`30s`, `8h`, `1500ms`; `0` as is): what `env.duration` parses back. */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0';
  for (const unit of ['d', 'h', 'm', 's'] as const) {
    const size = UNITS[unit] as number;
    if (ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}

export interface HostPort {
  host: string;
  port: number;
}

function parseHostPorts(raw: string): HostPort[] {
  const items = raw
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean);
  if (items.length === 0) throw new Error('must list at least one host:port');
  return items.map((item) => {
    const match = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9_.-]+):(\d{1,5})$/.exec(item);
    const port = Number(match?.[2]);
    if (!match?.[1] || port < 1 || port > 65_535) {
      throw new Error(`must be a comma-separated list of host:port (bad item ${JSON.stringify(item)})`);
    }
    return { host: match[1].replace(/^\[|\]$/g, ''), port };
  });
}

/** Readers for the kinds of value jobfleet's environment holds. */
export const env = {
  string(
    options: { default?: string; pattern?: RegExp; maxLength?: number; secret?: boolean } & DocOptions = {},
  ) {
    return withDefault<string>(
      {
        secret: options.secret ?? false,
        parse(raw) {
          if (options.maxLength !== undefined && raw.length > options.maxLength) {
            throw new Error(`must be at most ${options.maxLength} characters`);
          }
          if (options.pattern && !options.pattern.test(raw)) throw new Error(`must match ${options.pattern}`);
          return raw;
        },
      },
      options.default,
      options,
    );
  },

  /** An optional string: `undefined` when unset. */
  optionalString(
    options: { secret?: boolean } & DocOptions = {},
  ): EnvVar<string | undefined> & Optional<string> {
    return {
      secret: options.secret ?? false,
      ...docsOf(options),
      parse: (raw) => raw,
      fallback: () => undefined,
    };
  },

  integer(options: { default?: number; min?: number; max?: number } & DocOptions = {}) {
    const { min = Number.MIN_SAFE_INTEGER, max = Number.MAX_SAFE_INTEGER } = options;
    return withDefault<number>(
      {
        parse(raw) {
          const value = /^-?\d+$/.test(raw) ? Number(raw) : Number.NaN;
          if (!Number.isSafeInteger(value) || value < min || value > max) {
            throw new Error(`must be an integer from ${min} to ${max}`);
          }
          return value;
        },
      },
      options.default,
      options,
    );
  },

  /** Milliseconds as a plain number, or with a unit: `250ms`, `30s`, `5m`, `1h`, `2d`. */
  duration(options: { default?: number; min?: number; max?: number } & DocOptions = {}) {
    const { min = 0, max = 365 * DAY_MS } = options;
    return withDefault<number>(
      {
        parse(raw) {
          const match = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(raw);
          const value = match ? Math.round(Number(match[1]) * (UNITS[match[2] ?? 'ms'] ?? 1)) : Number.NaN;
          if (!Number.isFinite(value) || value < min || value > max) {
            throw new Error(
              `must be a duration in milliseconds (or with ms/s/m/h/d) from ${min} to ${max} ms`,
            );
          }
          return value;
        },
      },
      options.default,
      options,
      formatDuration,
    );
  },

  boolean(options: { default?: boolean } & DocOptions = {}) {
    return withDefault<boolean>(
      {
        parse(raw) {
          const value = raw.toLowerCase();
          if (['1', 'true', 'yes', 'on'].includes(value)) return true;
          if (['0', 'false', 'no', 'off'].includes(value)) return false;
          throw new Error('must be true or false');
        },
      },
      options.default,
      options,
    );
  },

  oneOf<const T extends string>(values: readonly T[], options: { default?: T } & DocOptions = {}) {
    return withDefault<T>(
      {
        parse(raw) {
          if (!(values as readonly string[]).includes(raw))
            throw new Error(`must be one of ${values.join(', ')}`);
          return raw as T;
        },
      },
      options.default,
      options,
    );
  },

  /** A comma-separated list of `host:port` (IPv6 hosts in brackets), e.g. Redis seed nodes. */
  hostPorts(options: DocOptions = {}): EnvVar<HostPort[] | undefined> & Optional<HostPort[]> {
    return {
      ...docsOf(options),
      parse: parseHostPorts,
      fallback: () => undefined,
    };
  },

  url(options: { default?: string; protocols: readonly string[]; secret?: boolean } & DocOptions) {
    return withDefault<string>(
      {
        secret: options.secret ?? false,
        parse(raw) {
          let url: URL;
          try {
            url = new URL(raw);
          } catch {
            throw new Error(`must be a URL (${options.protocols.map((p) => `${p}//`).join(' or ')})`);
          }
          if (!options.protocols.includes(url.protocol)) {
            throw new Error(`must use ${options.protocols.join(' or ')}`);
          }
          return raw;
        },
      },
      options.default,
      options,
    );
  },
} as const;

/**
 * For entrypoints: a {@link ConfigError} (also one found while starting, e.g.
 * a bad `OTEL_*` key) prints its one message naming every bad key and exits 1,
 * without a stack trace; anything else is thrown on.
 */
export function exitOnConfigError(error: unknown): never {
  if (!(error instanceof ConfigError)) throw error;
  process.stderr.write(`${error.message}\n`);
  process.exit(1);
}

/** For entrypoints: {@link loadConfig}, or print the one message naming every bad key and exit 1. */
export function loadConfigOrExit<S extends Record<string, EnvVar<unknown>>>(
  spec: S,
  env: Record<string, string | undefined> = process.env,
): ConfigOf<S> {
  try {
    return loadConfig(spec, env);
  } catch (error) {
    return exitOnConfigError(error);
  }
}

/** `JSON.parse` whose error keeps only the position: its messages can quote the input, which may be a secret. */
export function parseSecretJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    const where = /position \d+(?: \(line \d+ column \d+\))?/.exec((error as Error).message)?.[0];
    throw new Error(`is not valid JSON${where ? ` (at ${where})` : ''}`);
  }
}

/**
 * An optional secret given inline (`X`) and its `X_FILE` twin, a path to the
 * same text (a mounted secret, read once at start); `parse` turns the text into
 * the value. Errors never echo the secret.
 */
export function secretSetting<T>(
  parse: (text: string) => T,
  fileName = 'file',
): {
  inline: EnvVar<T | undefined>;
  file: EnvVar<T | undefined>;
} {
  return {
    inline: { secret: true, parse, fallback: () => undefined },
    file: {
      parse(path) {
        let text: string;
        try {
          text = readFileSync(path, 'utf8');
        } catch (error) {
          throw new Error(`cannot read the ${fileName}: ${(error as NodeJS.ErrnoException).code ?? 'error'}`);
        }
        return parse(text);
      },
      fallback: () => undefined,
    },
  };
}
