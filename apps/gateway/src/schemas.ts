import type { QueueContract } from '@jobfleet/queue-contracts';
import { PRIORITY_LIMIT } from 'bullmq';
import { type Static, Type } from 'typebox';

/** The longest `options.delay`: 30 days, in milliseconds. */
export const MAX_DELAY_MS = 30 * 86_400_000;
/** The most `options.attempts` a client may ask for. */
export const MAX_ATTEMPTS = 25;

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
        description: 'Milliseconds to wait before the job may run.',
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
  },
  { additionalProperties: false },
);

export type EnqueueOptions = Static<typeof EnqueueOptions>;

/** An enqueue request as the handler sees it; the route schema has already checked `data` against the contract. */
export interface EnqueueBody {
  name: string;
  data: unknown;
  options?: EnqueueOptions;
}

/**
 * The body of `POST /v1/queues/<queue>/jobs`: one branch per job of the
 * contract, each embedding the contract's own payload schema, so the gateway
 * and the worker check a payload against the same schema. The `discriminator`
 * makes ajv pick the branch by `name` and report only that branch's errors.
 */
export function enqueueBodySchema(contract: QueueContract) {
  const branches = Object.entries(contract.jobs).map(([name, job]) =>
    Type.Object(
      { name: Type.Literal(name), data: job.data, options: Type.Optional(EnqueueOptions) },
      { additionalProperties: false, title: name, description: job.description },
    ),
  );
  return Type.Unsafe<EnqueueBody>({
    type: 'object',
    required: ['name'],
    discriminator: { propertyName: 'name' },
    oneOf: branches,
  });
}

export const EnqueueAccepted = Type.Object(
  { id: Type.String(), queue: Type.String(), name: Type.String() },
  { additionalProperties: false },
);

/**
 * A job's state as clients see it. BullMQ's `prioritized` is reported as
 * `waiting`: to a client both mean "queued, not started".
 */
export const JobState = Type.Union([
  Type.Literal('waiting'),
  Type.Literal('delayed'),
  Type.Literal('active'),
  Type.Literal('completed'),
  Type.Literal('failed'),
  Type.Literal('waiting-children'),
]);

export type JobState = Static<typeof JobState>;

const Timestamp = Type.String({ format: 'date-time' });

export const JobStatus = Type.Object(
  {
    id: Type.String(),
    queue: Type.String(),
    name: Type.String(),
    state: JobState,
    attemptsMade: Type.Integer({ minimum: 0 }),
    progress: Type.Unknown({ description: 'What the worker last reported: a number or an object.' }),
    data: Type.Unknown(),
    result: Type.Optional(Type.Unknown({ description: 'The result, once completed.' })),
    failedReason: Type.Optional(Type.String({ description: 'Why the last attempt failed.' })),
    createdAt: Timestamp,
    startedAt: Type.Optional(Timestamp),
    finishedAt: Type.Optional(Timestamp),
  },
  { additionalProperties: false },
);

export type JobStatus = Static<typeof JobStatus>;

export const QueueParams = Type.Object({ queue: Type.String({ maxLength: 128 }) });

export const JobParams = Type.Object({
  queue: Type.String({ maxLength: 128 }),
  id: Type.String({ minLength: 1, maxLength: 512 }),
});
