import { type Static, Type } from 'typebox';
import { CANCELLED_REASON } from './cancellation.js';
import { defineQueue } from './contract.js';
import { type JobOrigin, originOf, withOrigin } from './origin.js';
import { HttpUrl } from './primitives.js';

/**
 * Completion webhooks. A job posted with `options.callback: { url }` records
 * the URL in its options under {@link CALLBACK_OPTION}; when it ends for good
 * (completed, dead-lettered or cancelled) a `deliver` job of the `webhooks`
 * queue is added, whose worker POSTs the event there, signed (Standard
 * Webhooks) with the secret of the API key that posted the job. The delivery
 * carries the job's origin, so the worker signs with that key's secret only.
 */

/** The job option under which a job's callback travels (beside its origin, outside its payload). */
export const CALLBACK_OPTION = 'jobfleetCallback';

/** Where a job's completion event goes. */
export interface JobCallback {
  url: string;
}

/** The kinds of completion event. */
export type WebhookEventType = 'job.completed' | 'job.failed' | 'job.cancelled';

const IsoTime = Type.String({ format: 'date-time', maxLength: 40 });

/** The body of a completion webhook (the Standard Webhooks payload shape). */
export const WebhookEvent = Type.Object(
  {
    type: Type.Union([
      Type.Literal('job.completed'),
      Type.Literal('job.failed'),
      Type.Literal('job.cancelled'),
    ]),
    /** When the job ended. */
    timestamp: IsoTime,
    data: Type.Object(
      {
        queue: Type.String({ minLength: 1, maxLength: 128 }),
        id: Type.String({ minLength: 1, maxLength: 512 }),
        name: Type.String({ minLength: 1, maxLength: 128 }),
        /** `job.completed`: the job's result. */
        result: Type.Optional(Type.Unknown()),
        /** `job.failed` and `job.cancelled`: why it ended. */
        failedReason: Type.Optional(Type.String({ maxLength: 8_192 })),
        finishedAt: IsoTime,
      },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);

export type WebhookEvent = Static<typeof WebhookEvent>;

/** The payload of a `deliver` job: where to, and what. */
export const WebhooksDeliverData = Type.Object(
  { url: HttpUrl, event: WebhookEvent },
  { additionalProperties: false },
);

/** The result of a `deliver` job: the receiver's status code. */
export const WebhooksDeliverResult = Type.Object(
  { status: Type.Integer({ minimum: 200, maximum: 299 }) },
  { additionalProperties: false },
);

export const webhooks = defineQueue({
  name: 'webhooks',
  team: 'platform',
  description:
    'Completion webhooks: each job POSTs one signed event to the callback URL of a finished job. Added by jobfleet itself when a job with `options.callback` ends; a job posted here is signed with the posting key’s own secret.',
  jobs: {
    deliver: {
      description: 'POST one completion event to its URL, signed per Standard Webhooks.',
      data: WebhooksDeliverData,
      result: WebhooksDeliverResult,
      example: {
        url: 'https://example.com/hooks/jobfleet',
        event: {
          type: 'job.completed',
          timestamp: '2026-12-06T10:00:00.000Z',
          data: {
            queue: 'emails',
            id: '1',
            name: 'welcome',
            result: null,
            finishedAt: '2026-12-06T10:00:00.000Z',
          },
        },
      },
    },
  },
  // 13 attempts, 1 s doubling: retries over about an hour (1 + 2 + … + 2048 s ≈ 68 min), then a dead letter.
  defaultJobOptions: {
    attempts: 13,
    backoff: { type: 'exponential', delay: 1_000 },
    removeOnComplete: { age: 24 * 3_600, count: 10_000 },
    removeOnFail: { age: 7 * 24 * 3_600, count: 10_000 },
  },
});

/**
 * ZSET of a queue's jobs that asked for a completion webhook and have started
 * (job id → when its latest attempt started, ms), until their delivery is
 * queued: the worker adds a job before running it and removes it once the
 * delivery is added. An entry left behind (the worker died between BullMQ
 * recording the ending and the delivery's add, or Redis refused the add) is
 * found by the DLQ processor, which queues the delivery then. `prefix` is the
 * queue's BullMQ prefix (service-kit's `queuePrefix`): the key is in the
 * queue's slot.
 */
export function pendingCallbacksKey(prefix: string, queue: string): string {
  return `${prefix}:${queue}:jobfleet:callbacks`;
}

/** The job name of a delivery. */
export const WEBHOOK_DELIVERY_JOB = 'deliver';

/** `options` with a callback recorded. */
export function withCallback<O extends object>(
  options: O,
  callback: JobCallback,
): O & { [CALLBACK_OPTION]: JobCallback } {
  return { ...options, [CALLBACK_OPTION]: { url: callback.url } };
}

/** The callback recorded on a job, if it has one. */
export function callbackOf(job: { opts: object }): JobCallback | undefined {
  const value = (job.opts as Record<string, unknown>)[CALLBACK_OPTION];
  if (!value || typeof value !== 'object') return undefined;
  const { url } = value as { url?: unknown };
  return typeof url === 'string' ? { url } : undefined;
}

const SHORT_TYPE: Record<WebhookEventType, string> = {
  'job.completed': 'completed',
  'job.failed': 'failed',
  'job.cancelled': 'cancelled',
};

/** Every kind of completion event. */
export const WEBHOOK_EVENT_TYPES = Object.keys(SHORT_TYPE) as readonly WebhookEventType[];

/**
 * The delivery's job id, one per job and kind of ending: a replayed event, a
 * second process or a second path (a worker and the gateway) adds nothing
 * twice, since BullMQ keeps the first job of an id. BullMQ refuses `:` in ids,
 * so the job id is URI-encoded and the parts joined with `.` (queue names and
 * the kinds hold none, so the id reads back unambiguously). It is also the
 * request's `webhook-id`.
 */
export function webhookDeliveryId(queue: string, jobId: string, type: WebhookEventType): string {
  return `${queue}.${encodeURIComponent(jobId)}.${SHORT_TYPE[type]}`;
}

/** A finished job, as BullMQ gives it (the fields a completion event needs). */
export interface FinishedJob {
  id?: string | undefined;
  name: string;
  opts: object;
  finishedOn?: number | undefined;
  returnvalue?: unknown;
  failedReason?: string | undefined;
}

/** A delivery ready for `queue.add(name, data, opts)` on the `webhooks` queue. */
export interface WebhookDelivery {
  name: typeof WEBHOOK_DELIVERY_JOB;
  data: Static<typeof WebhooksDeliverData>;
  opts: { jobId: string } & Record<string, unknown>;
}

/**
 * Where `job`'s completion event goes and whom it is signed for, when it asked
 * for one: a callback, an origin, an id, and not itself a delivery.
 */
function announcement(
  queue: string,
  job: { id?: string | undefined; opts: object },
): { id: string; callback: JobCallback; origin: JobOrigin } | undefined {
  if (queue === webhooks.name || job.id === undefined) return undefined;
  const callback = callbackOf(job);
  const origin = originOf(job);
  return callback && origin ? { id: job.id, callback, origin } : undefined;
}

/** Whether `job`'s ending is announced by a completion webhook: exactly when {@link webhookDeliveryFor} gives one. */
export function announcesEnding<J extends { id?: string | undefined; opts: object }>(
  queue: string,
  job: J,
): job is J & { id: string } {
  return announcement(queue, job) !== undefined;
}

/**
 * The delivery of `job`'s completion event, or `undefined` when the job asked
 * for none (no callback, or no origin to sign for). Jobs of the `webhooks`
 * queue never get one: a delivery does not announce itself.
 */
export function webhookDeliveryFor(
  queue: string,
  job: FinishedJob,
  type: WebhookEventType,
  finishedAt: number = job.finishedOn ?? Date.now(),
): WebhookDelivery | undefined {
  const target = announcement(queue, job);
  if (!target) return undefined;
  const { id, callback, origin } = target;
  const at = new Date(finishedAt).toISOString();
  const data: WebhookEvent['data'] = { queue, id, name: job.name, finishedAt: at };
  if (type === 'job.completed') data.result = job.returnvalue ?? null;
  else {
    // A queued job that was removed on request never failed: it has no reason of its own.
    const reason = job.failedReason || (type === 'job.cancelled' ? CANCELLED_REASON : '');
    data.failedReason = reason.slice(0, 8_192);
  }
  const opts = withOrigin({ ...webhooks.defaultJobOptions }, origin);
  return {
    name: WEBHOOK_DELIVERY_JOB,
    data: { url: callback.url, event: { type, timestamp: at, data } },
    opts: { ...opts, jobId: webhookDeliveryId(queue, id, type) },
  };
}
