import { originOf, type webhooks } from '@jobfleet/queue-contracts';
import { type HandlerMap, PermanentJobError, type PushAnswer, postSigned } from '@jobfleet/worker-runtime';
import type { Dispatcher } from 'undici';
import type { WebhookMetrics } from './metrics.js';

const USER_AGENT = 'jobfleet-webhooks';

export interface DeliverOptions {
  /** Webhook secrets by API key id. */
  secrets: ReadonlyMap<string, string>;
  timeoutMs: number;
  /** Connects to public addresses only; `undefined` with `WEBHOOK_ALLOW_PRIVATE_NETWORKS=true`. */
  publicOnly: Dispatcher | undefined;
  metrics: WebhookMetrics;
}

/** A delivery that cannot be signed: no retry helps until the key list changes. */
export class UnsignableDeliveryError extends PermanentJobError {
  override name = 'UnsignableDeliveryError';
}

/**
 * `deliver`: POSTs the event to its URL with worker-runtime's `postSigned`
 * (5 s timeout, no redirects; 2xx delivered; 408, 429, 5xx, timeouts and
 * connection errors retried with the contract's backoff, at least as long as
 * `Retry-After` asks; other answers and private destinations fail for good
 * and are dead-lettered). Signed with the `webhookSecret` of the API key that
 * posted the finished job (the delivery's origin); the `webhook-id` is the
 * delivery's job id, the same on every retry.
 */
export function createHandlers(options: DeliverOptions): HandlerMap<typeof webhooks> {
  const { secrets, timeoutMs, publicOnly, metrics } = options;
  return {
    deliver: async (data, { job, signal }) => {
      const client = originOf(job)?.client;
      const secret = client === undefined ? undefined : secrets.get(client);
      if (!secret) {
        throw new UnsignableDeliveryError(
          client === undefined
            ? 'the delivery names no API key (it was not added by jobfleet or the gateway), so it cannot be signed'
            : `API key "${client}" has no webhookSecret in the API key list, so the delivery cannot be signed`,
        );
      }
      const started = performance.now();
      const onAnswer = (answer: PushAnswer) => {
        metrics.answers.inc({ answer });
        metrics.duration.observe({ answer }, (performance.now() - started) / 1000);
      };
      const { status } = await postSigned({
        url: data.url,
        body: JSON.stringify(data.event),
        secret,
        messageId: job.id ?? '',
        timeoutMs,
        signal,
        job,
        maxBodyBytes: 0,
        userAgent: USER_AGENT,
        publicOnly,
        onAnswer,
      });
      return { status };
    },
  };
}
