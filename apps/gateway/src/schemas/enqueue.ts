import type { QueueContract } from '@jobfleet/queue-contracts';
import { PRIORITY_LIMIT } from 'bullmq';
import { type Static, Type } from 'typebox';
import { byJobName, IDEMPOTENCY_KEY_HEADER, JOB_ID_PATTERN, JOB_ID_RULE } from './common.js';

/** The longest `options.delay`: 30 days, in milliseconds. */
export const MAX_DELAY_MS = 30 * 86_400_000;
/** The most `options.attempts` a client may ask for. */
export const MAX_ATTEMPTS = 25;
/** The longest base delay of a backoff: one day. */
export const MAX_BACKOFF_DELAY_MS = 86_400_000;
/** The most jobs one batch may hold. */
export const MAX_BATCH_JOBS = 1_000;

/** The headers of a request that may carry an `Idempotency-Key`. */
export const IdempotencyHeaders = Type.Object({
  [IDEMPOTENCY_KEY_HEADER]: Type.Optional(
    Type.String({
      pattern: '^[\\x20-\\x7E]{1,255}$',
      description:
        'Makes the request safe to retry: within the idempotency window the same key with the same body answers 200 with the original job ids (duplicate: true), and with a different body 422. Scoped per API key.',
    }),
  ),
});

export const Backoff = Type.Object(
  {
    type: Type.Union([Type.Literal('fixed'), Type.Literal('exponential')], {
      description: '`fixed`: the same delay before every retry; `exponential`: delay × 2^(retry − 1).',
    }),
    delay: Type.Integer({ minimum: 0, maximum: MAX_BACKOFF_DELAY_MS, description: 'Base delay in ms.' }),
    jitter: Type.Optional(
      Type.Number({ minimum: 0, maximum: 1, description: 'Random share (0 to 1) taken off each delay.' }),
    ),
  },
  { additionalProperties: false },
);

/**
 * The job options a client may set. Anything else is refused (400) rather than
 * ignored, so a client never believes an option took effect when it did not.
 */
export const EnqueueOptions = Type.Object(
  {
    delay: Type.Optional(
      Type.Integer({
        minimum: 0,
        maximum: MAX_DELAY_MS,
        description: 'Milliseconds to wait before the job may run (up to 30 days).',
      }),
    ),
    priority: Type.Optional(
      Type.Integer({
        minimum: 0,
        maximum: PRIORITY_LIMIT,
        description: '0 (default) runs first; among prioritised jobs, lower runs sooner.',
      }),
    ),
    attempts: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: MAX_ATTEMPTS,
        description: "Tries in total, overriding the queue's default.",
      }),
    ),
    backoff: Type.Optional(Backoff),
    jobId: Type.Optional(
      Type.String({ pattern: JOB_ID_PATTERN, description: `A custom job id: ${JOB_ID_RULE}.` }),
    ),
    callback: Type.Optional(
      Type.Object(
        {
          url: Type.String({
            format: 'uri',
            maxLength: 2_048,
            description:
              'An http(s) URL on a public address. When the job ends for good (completed, dead-lettered or cancelled), jobfleet POSTs `{ type: "job.completed" | "job.failed" | "job.cancelled", timestamp, data: { queue, id, name, result | failedReason, finishedAt } }` there, signed per Standard Webhooks with the `webhookSecret` of the API key that posted the job, and retries for about an hour.',
          }),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);

export type EnqueueOptions = Static<typeof EnqueueOptions>;

/** One job of an enqueue or batch request; the route schema has already checked `data` against the contract. */
export interface EnqueueBody {
  name: string;
  data: unknown;
  options?: EnqueueOptions;
}

export interface BatchBody {
  jobs: EnqueueBody[];
}

/** The body of `POST /v1/queues/<queue>/jobs`: `{ name, data, options? }`, one branch per job name. */
export function enqueueBodySchema(contract: QueueContract) {
  return byJobName<EnqueueBody>(contract, (data) => ({ data, options: Type.Optional(EnqueueOptions) }));
}

/** The body of `POST /v1/queues/<queue>/jobs/batch`: `{ jobs: [1 to 1000 enqueue bodies] }`. */
export function batchBodySchema(contract: QueueContract) {
  return Type.Unsafe<BatchBody>(
    Type.Object(
      {
        jobs: Type.Array(enqueueBodySchema(contract), {
          minItems: 1,
          maxItems: MAX_BATCH_JOBS,
          description: `1 to ${MAX_BATCH_JOBS} jobs, checked all or nothing and added in one Redis round trip.`,
        }),
      },
      { additionalProperties: false },
    ),
  );
}

export const EnqueueAccepted = Type.Object(
  {
    id: Type.String(),
    queue: Type.String(),
    name: Type.String(),
    duplicate: Type.Boolean({
      description:
        'true when no new job was made: an Idempotency-Key replay, or a custom jobId that already exists.',
    }),
  },
  { additionalProperties: false },
);

export type EnqueueAccepted = Static<typeof EnqueueAccepted>;

export const BatchAccepted = Type.Object(
  {
    jobs: Type.Array(
      Type.Object(
        { id: Type.String(), name: Type.String(), duplicate: Type.Boolean() },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);

export type BatchAccepted = Static<typeof BatchAccepted>;
