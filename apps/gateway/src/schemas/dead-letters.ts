import { DeadLetterRecord } from '@jobfleet/queue-contracts';
import { type Static, Type } from 'typebox';

/** The most records one list page or one bulk redrive covers (the store's bound). */
export const MAX_DEAD_LETTER_PAGE = 1_000;
/** Records per page when `limit` is not given. */
export const DEFAULT_DEAD_LETTER_PAGE = 50;

const RecordId = Type.String({
  minLength: 1,
  maxLength: 1_024,
  description: 'The record id: `<queue>.<job id>.<failure time in ms>`.',
});

export const DeadLetterParams = Type.Object({ id: RecordId });

/** The query of `GET /v1/dead-letters` (query strings are coerced: see `validation.ts`). */
export const DeadLetterListQuery = Type.Object(
  {
    queue: Type.Optional(Type.String({ minLength: 1, maxLength: 128, description: 'Source queue.' })),
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 128, description: 'Job name.' })),
    since: Type.Optional(
      Type.String({
        format: 'date-time',
        maxLength: 40,
        description: 'ISO 8601 time: only records of failures at or after it.',
      }),
    ),
    limit: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: MAX_DEAD_LETTER_PAGE,
        description: `Records per page, 1 to ${MAX_DEAD_LETTER_PAGE} (default ${DEFAULT_DEAD_LETTER_PAGE}).`,
      }),
    ),
    cursor: Type.Optional(
      Type.String({ minLength: 1, maxLength: 2_048, description: '`nextCursor` of the previous page.' }),
    ),
  },
  { additionalProperties: false },
);

export type DeadLetterListQuery = Static<typeof DeadLetterListQuery>;

/** One record as the API shows it: its id and the record's fields. */
export const DeadLetterView = Type.Object(
  { id: RecordId, ...DeadLetterRecord.properties },
  { additionalProperties: false },
);

export type DeadLetterView = Static<typeof DeadLetterView>;

export const DeadLetterPage = Type.Object(
  {
    items: Type.Array(DeadLetterView),
    nextCursor: Type.Optional(
      Type.String({ description: 'Present when more records may follow: pass it back as `cursor`.' }),
    ),
  },
  { additionalProperties: false },
);

export const RedriveBody = Type.Object(
  {
    data: Type.Optional(
      Type.Unknown({
        description:
          "A replacement payload, checked against the job's contract; without it the record's own.",
      }),
    ),
  },
  { additionalProperties: false },
);

export type RedriveBody = Static<typeof RedriveBody>;

export const RedriveAccepted = Type.Object(
  {
    id: RecordId,
    queue: Type.String(),
    jobName: Type.String(),
    jobId: Type.String({ description: 'The new job in the source queue.' }),
  },
  { additionalProperties: false },
);

export const BulkRedriveBody = Type.Object(
  {
    queue: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
    reasonContains: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 1_024,
        description: 'Case-insensitive text of the failure reason.',
      }),
    ),
    limit: Type.Integer({
      minimum: 1,
      maximum: MAX_DEAD_LETTER_PAGE,
      description: 'Required: at most this many are sent back.',
    }),
    cursor: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 2_048,
        description: '`nextCursor` of an earlier bulk redrive with the same filters: go on from there.',
      }),
    ),
  },
  { additionalProperties: false },
);

export type BulkRedriveBody = Static<typeof BulkRedriveBody>;

export const BulkRedriveResult = Type.Object(
  {
    redriven: Type.Integer({ minimum: 0, description: 'Records sent back to their queue.' }),
    skipped: Type.Integer({
      minimum: 0,
      description: 'Matching records not sent: payload no longer fits, or another redrive took them first.',
    }),
    jobIds: Type.Array(Type.String(), { description: 'The new jobs, in the order they were added.' }),
    scanned: Type.Integer({
      minimum: 0,
      maximum: MAX_DEAD_LETTER_PAGE,
      description: `Records read, matching or not. One request reads at most ${MAX_DEAD_LETTER_PAGE}.`,
    }),
    nextCursor: Type.Optional(
      Type.String({
        description:
          'Present when the request stopped (at `limit`, or after reading its most records) with records left: pass it back as `cursor` to go on.',
      }),
    ),
  },
  { additionalProperties: false },
);
