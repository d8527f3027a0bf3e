import { defineQueue } from '@jobfleet/queue-contracts';
import { Type } from 'typebox';

/** A small queue for testing the runtime on its own. */
export const pings = defineQueue({
  name: 'pings',
  team: 'platform',
  description: 'Test queue.',
  jobs: {
    ping: {
      description: 'Answers with the text it was given.',
      data: Type.Object({ text: Type.String({ maxLength: 100 }) }, { additionalProperties: false }),
      result: Type.Object({ echoed: Type.String() }),
    },
    pause: {
      description: 'Waits for the given milliseconds.',
      data: Type.Object(
        { ms: Type.Integer({ minimum: 0, maximum: 10_000 }) },
        { additionalProperties: false },
      ),
      result: Type.Null(),
    },
  },
  defaultJobOptions: {
    attempts: 3,
    backoff: { type: 'fixed', delay: 10 },
    removeOnComplete: { age: 3_600, count: 100 },
    removeOnFail: { age: 3_600, count: 100 },
  },
});
