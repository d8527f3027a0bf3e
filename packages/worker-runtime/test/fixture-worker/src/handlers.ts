import type { HandlerMap } from '../../../src/index.js';
import type { thumbnails } from '../contract.js';

/** One handler per job of `thumbnails`: each gets its typed payload and returns its typed result. */
export const handlers: HandlerMap<typeof thumbnails> = {
  resize: async ({ id }, { log }) => {
    log.info({ id }, 'resize done');
    return { ok: true };
  },
  crop: async ({ id }, { log }) => {
    log.info({ id }, 'crop done');
    return { ok: true };
  },
};
