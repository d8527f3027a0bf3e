import type { webhooks } from '@jobfleet/queue-contracts';
import type { HandlerMap } from '@jobfleet/worker-runtime';

/**
 * One handler per job of the `webhooks` queue: the payload in, the result out, both typed by the
 * contract (packages/queue-contracts/src/webhooks.ts). A missing job or a wrong type is a compile
 * error. Throw to retry; throw `PermanentJobError` (from @jobfleet/worker-runtime) to fail for good.
 */
export const handlers: HandlerMap<typeof webhooks> = {
  deliver: async (data, { log }) => {
    log.debug({ id: data.id }, 'deliver');
    return { ok: true };
  },
};
