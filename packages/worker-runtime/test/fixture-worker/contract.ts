import { defineQueue } from '@jobfleet/queue-contracts';
import { Type } from 'typebox';

/**
 * What `pnpm new-worker thumbnails --job resize --job crop` writes to
 * `packages/queue-contracts/src/thumbnails.ts`: each job starts with the
 * payload `{ id }` and the result `{ ok }`, and the team edits both.
 */
const payload = Type.Object(
  { id: Type.String({ minLength: 1, maxLength: 200 }) },
  { additionalProperties: false },
);
const result = Type.Object({ ok: Type.Boolean() }, { additionalProperties: false });

export const thumbnails = defineQueue({
  name: 'thumbnails',
  team: 'thumbnails',
  description: 'Thumbnails of uploaded images.',
  jobs: {
    resize: { description: 'Resizes an image.', data: payload, result },
    crop: { description: 'Crops an image.', data: payload, result },
  },
  defaultJobOptions: {
    attempts: 3,
    backoff: { type: 'exponential', delay: 1_000 },
    removeOnComplete: { age: 86_400, count: 1_000 },
    removeOnFail: { age: 7 * 86_400, count: 10_000 },
  },
});
