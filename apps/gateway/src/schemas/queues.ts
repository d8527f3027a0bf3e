import { type Static, Type } from 'typebox';

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
