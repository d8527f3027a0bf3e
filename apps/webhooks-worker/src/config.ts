import {
  type ConfigCheck,
  type ConfigOf,
  commonConfig,
  configChecks,
  documented,
  env,
  parseSecretJson,
  parseWebhookSecret,
  secretSetting,
  withChecks,
} from '@jobfleet/service-kit';

/**
 * The webhook secrets of the gateway's API key list, by key id: the list is
 * the one the gateway reads (`GATEWAY_API_KEYS` or `GATEWAY_API_KEYS_FILE`),
 * so a key's secret lives in one place and never in Redis. Only `id` and
 * `webhookSecret` are read here; the gateway checks the rest. Messages never
 * quote a secret.
 */
export function parseWebhookSecrets(json: string): ReadonlyMap<string, string> {
  const list = parseSecretJson(json);
  if (!Array.isArray(list)) throw new Error('must be a JSON array of API key entries');
  const secrets = new Map<string, string>();
  const problems: string[] = [];
  list.forEach((entry: unknown, index) => {
    const { id, webhookSecret } = (entry ?? {}) as { id?: unknown; webhookSecret?: unknown };
    if (typeof id !== 'string' || webhookSecret === undefined) return;
    try {
      if (typeof webhookSecret !== 'string') throw new Error('must be a string');
      secrets.set(id, parseWebhookSecret(webhookSecret));
    } catch (error) {
      problems.push(`entry ${index} (id "${id}"): /webhookSecret ${(error as Error).message}`);
    }
  });
  if (problems.length > 0) throw new Error(problems.join('; '));
  return secrets;
}

const keys = secretSetting(parseWebhookSecrets, 'key file');

const commonChecks = (commonConfig as { [configChecks]?: readonly ConfigCheck[] })[configChecks] ?? [];

/** The webhooks-worker's own keys (beside those of every worker). */
export const webhooksWorkerConfig = withChecks(
  {
    GATEWAY_API_KEYS: documented(keys.inline, {
      doc: "The gateway's API key list (the same JSON; or `GATEWAY_API_KEYS_FILE`): each delivery is signed with the `webhookSecret` of the key that posted its job. A delivery whose key has none fails for good (the gateway refuses such callbacks anyway).",
      example:
        '[{"id":"<client>","keySha256":"<hex>","scopes":["emails:enqueue"],"webhookSecret":"whsec_<base64>"}]',
    }),
    GATEWAY_API_KEYS_FILE: documented(keys.file, {
      doc: "A file holding that list (the gateway's mounted secret), read once at start.",
      example: '/run/secrets/gateway-api-keys',
    }),
    WEBHOOK_TIMEOUT_MS: env.duration({
      default: 5_000,
      min: 100,
      max: 60_000,
      doc: 'Longest wait for a receiver to answer; a delivery that takes longer is aborted and retried.',
    }),
    WEBHOOK_ALLOW_PRIVATE_NETWORKS: env.boolean({
      default: false,
      doc: 'Deliver to private, loopback and link-local addresses too (development and tests only). Off: a callback host that is such an address, or resolves to one, fails its delivery for good.',
    }),
  },
  [
    ...commonChecks,
    (raw) =>
      raw.GATEWAY_API_KEYS?.trim() && raw.GATEWAY_API_KEYS_FILE?.trim()
        ? ['GATEWAY_API_KEYS and GATEWAY_API_KEYS_FILE: set one of them, not both']
        : [],
  ],
);

export type WebhooksWorkerConfig = ConfigOf<typeof webhooksWorkerConfig>;

/** The webhook secrets by key id, from whichever of the two keys is set. */
export const secretsOf = (config: WebhooksWorkerConfig): ReadonlyMap<string, string> =>
  config.gatewayApiKeys ?? config.gatewayApiKeysFile ?? new Map();
