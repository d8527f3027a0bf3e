import type { QueueContract } from '@jobfleet/queue-contracts';
import { PRIORITY_LIMIT } from 'bullmq';
import { type Static, type TSchema, Type } from 'typebox';

/** The longest `options.delay`: 30 days, in milliseconds. */
export const MAX_DELAY_MS = 30 * 86_400_000;
/** The most `options.attempts` a client may ask for. */
export const MAX_ATTEMPTS = 25;
/** The longest base delay of a backoff: one day. */
export const MAX_BACKOFF_DELAY_MS = 86_400_000;
/** The most jobs one batch may hold. */
export const MAX_BATCH_JOBS = 1_000;

/**
 * BullMQ's rules for a custom job id, said so a client can act on them. BullMQ
 * builds its Redis keys from ids (so no `:`) and tells its own numeric ids from
 * custom ones by their form (so no integer).
 */
export const JOB_ID_RULE =
  'must be 1 to 256 printable ASCII characters, contain no ":" and not be an integer (BullMQ keeps those for its own ids); to make a retried request safe with any key, send an Idempotency-Key header instead';

/** The pattern behind {@link JOB_ID_RULE}: printable ASCII without `:`, and not `0` or `-?[1-9][0-9]*`. */
export const JOB_ID_PATTERN = '^(?!(?:0|-?[1-9][0-9]*)$)[\\x21-\\x39\\x3B-\\x7E]{1,256}$';

export const IDEMPOTENCY_KEY_HEADER = 'idempotency-key';

export const IDEMPOTENCY_KEY_RULE = 'must be 1 to 255 printable ASCII characters';

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

/** Friendly messages for schema failures whose raw ajv message ("must match pattern …") would not help. */
export const RULE_MESSAGES: readonly { part: string; path: RegExp; keyword: string; message: string }[] = [
  { part: 'body', path: /\/options\/jobId$/, keyword: 'pattern', message: JOB_ID_RULE },
  { part: 'body', path: /\/options\/jobId$/, keyword: 'maxLength', message: JOB_ID_RULE },
  { part: 'headers', path: /^\/idempotency-key$/, keyword: 'pattern', message: IDEMPOTENCY_KEY_RULE },
  {
    part: 'params',
    path: /^\/scheduleId$/,
    keyword: 'pattern',
    message: 'must be 1 to 128 letters, digits, ".", "_" or "-", starting with a letter or digit',
  },
];

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

/**
 * `{ oneOf: [one branch per job of the contract] }`, discriminated by `name`:
 * each branch embeds the contract's own payload schema, so the gateway and the
 * worker check a payload against the same schema. The `discriminator` makes ajv
 * pick the branch by `name` and report only that branch's errors.
 */
function byJobName<T>(contract: QueueContract, fields: (data: TSchema) => Record<string, TSchema>) {
  const branches = Object.entries(contract.jobs).map(([name, job]) =>
    Type.Object(
      { name: Type.Literal(name), ...fields(job.data) },
      { additionalProperties: false, title: `${contract.name}/${name}`, description: job.description },
    ),
  );
  return Type.Unsafe<T>({
    type: 'object',
    required: ['name'],
    discriminator: { propertyName: 'name' },
    oneOf: branches,
  });
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

const QueueName = Type.String({ maxLength: 128, description: 'A catalog queue, e.g. `emails`.' });

export const QueueParams = Type.Object({ queue: QueueName });

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

/** Schedule ids follow job-id rules, since BullMQ derives job ids and Redis keys from them. */
export const SCHEDULE_ID_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$';

const ScheduleId = Type.String({
  pattern: SCHEDULE_ID_PATTERN,
  description: 'Letters, digits, `.`, `_` and `-`, up to 128 characters, starting with a letter or digit.',
});

/** The path of a route of one queue's schedules: `/v1/queues/<queue>/schedules/:scheduleId`. */
export const ScheduleIdParams = Type.Object({ scheduleId: ScheduleId });

export const ScheduleParams = Type.Object({ queue: QueueName, scheduleId: ScheduleId });

/** The shortest `everyMs`: one job a second per schedule. */
export const MIN_EVERY_MS = 1_000;
/** The longest `everyMs`: a year. */
export const MAX_EVERY_MS = 366 * 86_400_000;

/** What a schedule may say besides `name` and `data`; exactly one of `cron` and `everyMs`. */
const scheduleFields = {
  cron: Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: 256,
      description: 'A cron expression (5 fields, or 6 with seconds first), e.g. `0 2 * * *`.',
    }),
  ),
  everyMs: Type.Optional(
    Type.Integer({ minimum: MIN_EVERY_MS, maximum: MAX_EVERY_MS, description: 'Run every this many ms.' }),
  ),
  timezone: Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: 64,
      description: 'IANA time zone of a cron expression, e.g. `Europe/Berlin`; UTC when absent.',
    }),
  ),
  startDate: Type.Optional(Type.String({ format: 'date-time', description: 'No run before this time.' })),
  endDate: Type.Optional(Type.String({ format: 'date-time', description: 'No run after this time.' })),
  limit: Type.Optional(
    Type.Integer({ minimum: 1, maximum: 1_000_000_000, description: 'Stop after this many runs.' }),
  ),
};

export interface ScheduleBody {
  name: string;
  data: unknown;
  cron?: string;
  everyMs?: number;
  timezone?: string;
  startDate?: string;
  endDate?: string;
  limit?: number;
}

/** The body of `PUT /v1/queues/<queue>/schedules/<id>`, one branch per job name. */
export function scheduleBodySchema(contract: QueueContract) {
  return byJobName<ScheduleBody>(contract, (data) => ({ data, ...scheduleFields }));
}

export const Schedule = Type.Object(
  {
    id: Type.String(),
    queue: Type.String(),
    name: Type.String(),
    data: Type.Unknown(),
    cron: Type.Optional(Type.String()),
    everyMs: Type.Optional(Type.Integer()),
    timezone: Type.Optional(Type.String()),
    startDate: Type.Optional(Timestamp),
    endDate: Type.Optional(Timestamp),
    limit: Type.Optional(Type.Integer()),
    runs: Type.Integer({
      minimum: 0,
      description:
        'Jobs the schedule has made whose time has come; the job waiting for `nextRunAt` is not counted.',
    }),
    nextRunAt: Type.Union([Timestamp, Type.Null()], {
      description: 'When the next job is due; null when the schedule has run out.',
    }),
  },
  { additionalProperties: false },
);

export type Schedule = Static<typeof Schedule>;

export const ScheduleList = Type.Object({ schedules: Type.Array(Schedule) }, { additionalProperties: false });

/** Job counts of a queue by state. */
export const QueueCounts = Type.Object(
  {
    waiting: Type.Integer(),
    prioritized: Type.Integer(),
    delayed: Type.Integer(),
    active: Type.Integer(),
    completed: Type.Integer(),
    failed: Type.Integer(),
    'waiting-children': Type.Integer(),
  },
  { additionalProperties: false },
);

export type QueueCounts = Static<typeof QueueCounts>;

export const QueueSummary = Type.Object(
  {
    name: Type.String(),
    description: Type.String(),
    jobNames: Type.Array(Type.String()),
    paused: Type.Boolean(),
    workers: Type.Integer({ minimum: 0, description: 'Worker connections currently serving the queue.' }),
    counts: QueueCounts,
    oldestWaitingAgeSeconds: Type.Union([Type.Number({ minimum: 0 }), Type.Null()], {
      description: 'Age of the oldest job waiting to start (FIFO, not prioritised); null when none waits.',
    }),
  },
  { additionalProperties: false },
);

export type QueueSummary = Static<typeof QueueSummary>;

export const QueueList = Type.Object({ queues: Type.Array(QueueSummary) }, { additionalProperties: false });

export const PauseState = Type.Object(
  { queue: Type.String(), paused: Type.Boolean() },
  { additionalProperties: false },
);

/** An RFC 9457 problem, as every error is sent (for the OpenAPI document). */
export const ProblemSchema = Type.Object(
  {
    type: Type.String({ format: 'uri' }),
    title: Type.String(),
    status: Type.Integer(),
    detail: Type.String(),
    code: Type.String({ description: 'A stable error code, e.g. `JOBFLEET_UNKNOWN_QUEUE`.' }),
    errors: Type.Optional(
      Type.Array(
        Type.Object(
          {
            path: Type.String({ description: 'JSON pointer into the request part that failed.' }),
            message: Type.String(),
          },
          { additionalProperties: false },
        ),
      ),
    ),
  },
  { additionalProperties: false, title: 'Problem' },
);
