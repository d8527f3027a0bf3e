import { type Static, Type } from 'typebox';
import { QueueName, Timestamp } from './common.js';

/**
 * A job's state as clients see it: BullMQ's states, and `cancelled` for a job
 * that a cancel request ended (BullMQ keeps it as failed).
 */
export const JobState = Type.Union([
  Type.Literal('waiting'),
  Type.Literal('prioritized'),
  Type.Literal('delayed'),
  Type.Literal('active'),
  Type.Literal('completed'),
  Type.Literal('failed'),
  Type.Literal('cancelled'),
  Type.Literal('waiting-children'),
]);

export type JobState = Static<typeof JobState>;

export const JobStatus = Type.Object(
  {
    id: Type.String(),
    queue: Type.String(),
    name: Type.String(),
    state: JobState,
    attemptsMade: Type.Integer({ minimum: 0 }),
    progress: Type.Unknown({ description: 'What the worker last reported: a number or an object.' }),
    data: Type.Unknown(),
    options: Type.Object(
      {
        attempts: Type.Optional(Type.Integer()),
        backoff: Type.Optional(Type.Unknown()),
        delay: Type.Optional(Type.Integer()),
        priority: Type.Optional(Type.Integer()),
      },
      { additionalProperties: false, description: 'The options the job runs with.' },
    ),
    origin: Type.Object(
      {
        client: Type.Optional(Type.String({ description: 'The id of the API key that posted the job.' })),
        tenant: Type.String({ description: 'The tenant the job counts under (`default` when none).' }),
      },
      { additionalProperties: false },
    ),
    result: Type.Optional(Type.Unknown({ description: 'The result, once completed.' })),
    failedReason: Type.Optional(Type.String({ description: 'Why the last attempt failed.' })),
    createdAt: Timestamp,
    startedAt: Type.Optional(Timestamp),
    finishedAt: Type.Optional(Timestamp),
  },
  { additionalProperties: false },
);

export type JobStatus = Static<typeof JobStatus>;

export const CancelAccepted = Type.Object(
  {
    id: Type.String(),
    queue: Type.String(),
    state: Type.Literal('cancelling', {
      description: 'The worker holding the job has been told to abort it; it ends as `cancelled`.',
    }),
  },
  { additionalProperties: false },
);

export const JobParams = Type.Object({
  queue: QueueName,
  id: Type.String({ minLength: 1, maxLength: 512 }),
});

/** The query of `GET /v1/queues/:queue/jobs/:id` (query strings are coerced: see `validation.ts`). */
export const JobStatusQuery = Type.Object(
  {
    waitMs: Type.Optional(
      Type.Integer({
        minimum: 0,
        maximum: 30_000,
        description:
          'Milliseconds, 0 to 30000: wait up to this long for an unfinished job to finish (completed, failed for good or cancelled) before answering. 0 (default) answers at once.',
      }),
    ),
  },
  { additionalProperties: false },
);
