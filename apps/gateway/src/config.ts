import { readFileSync } from 'node:fs';
import { type ConfigOf, commonConfig, type EnvVar, env } from '@jobfleet/service-kit';
import { type ApiKey, parseApiKeys } from './api-keys.js';

type ApiKeyList = readonly ApiKey[] | undefined;

/** `GATEWAY_API_KEYS`: the key list as JSON; a secret, so errors never echo it. */
const apiKeysJson: EnvVar<ApiKeyList> = {
  secret: true,
  parse: (raw) => parseApiKeys(raw),
  fallback: () => undefined,
};

/** `GATEWAY_API_KEYS_FILE`: a path to the same JSON (a mounted secret). Read once, at start. */
const apiKeysFile: EnvVar<ApiKeyList> = {
  parse(raw) {
    let text: string;
    try {
      text = readFileSync(raw, 'utf8');
    } catch (error) {
      throw new Error(`cannot read the key file: ${(error as NodeJS.ErrnoException).code ?? 'error'}`);
    }
    return parseApiKeys(text);
  },
  fallback: () => undefined,
};

/** 1 MiB: far above any job payload the contracts allow, small enough to bound memory per request. */
export const DEFAULT_BODY_LIMIT_BYTES = 1_048_576;

/**
 * The gateway's environment. The key list is parsed and checked here, at
 * start; that some key (or `GATEWAY_AUTH=disabled`) is configured is checked
 * by `buildGateway`, since it spans several variables.
 */
export const gatewayConfig = {
  ...commonConfig,
  PORT: env.integer({ default: 3000, min: 0, max: 65_535 }),
  GATEWAY_API_KEYS: apiKeysJson,
  GATEWAY_API_KEYS_FILE: apiKeysFile,
  GATEWAY_AUTH: env.oneOf(['enabled', 'disabled'], { default: 'enabled' }),
  BODY_LIMIT_BYTES: env.integer({ default: DEFAULT_BODY_LIMIT_BYTES, min: 1_024, max: 64 * 1_048_576 }),
};

export type GatewayConfig = ConfigOf<typeof gatewayConfig>;
