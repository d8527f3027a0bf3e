import { Type } from 'typebox';
import { defineQueue } from './contract.js';

// The `webhooks` queue, owned by the platform team. Made by `pnpm new-worker`; edit the payload and
// result schemas below: the gateway validates requests with them, the worker payloads and results,
// and /openapi.json documents them.

/** The payload of a `deliver` job. */
export const WebhooksDeliverData = Type.Object(
  { id: Type.String({ minLength: 1, maxLength: 200 }) },
  { additionalProperties: false },
);

/** The result of a `deliver` job. */
export const WebhooksDeliverResult = Type.Object({ ok: Type.Boolean() }, { additionalProperties: false });

export const webhooks = defineQueue({
  name: 'webhooks',
  team: 'platform',
  description: 'The webhooks queue.',
  jobs: {
    deliver: {
      description: 'A deliver job.',
      data: WebhooksDeliverData,
      result: WebhooksDeliverResult,
      example: { id: 'example-1' },
    },
  },
  defaultJobOptions: {
    attempts: 3,
    backoff: { type: 'exponential', delay: 1_000 },
    removeOnComplete: { age: 24 * 3_600, count: 10_000 },
    removeOnFail: { age: 7 * 24 * 3_600, count: 10_000 },
  },
});
