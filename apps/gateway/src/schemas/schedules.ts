import type { QueueContract } from '@jobfleet/queue-contracts';
import { type Static, Type } from 'typebox';
import { byJobName, QueueName, Timestamp } from './common.js';

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
