import { deadLetters, pendingCallbacksKey } from '@jobfleet/queue-contracts';
import { queuePrefix as bullmqPrefix, queueKeyBase } from '@jobfleet/service-kit';

/** The hash field of a record's job in which a redrive claims the record (JSON, see `redrive.ts`). */
export const REDRIVE_CLAIM_FIELD = 'jobfleet:redrive';

/**
 * Every Redis key of the dead-letter store. Records are BullMQ jobs of the
 * `dead-letters` queue (`<prefix>:dead-letters:<id>`); the store's own keys sit
 * beside them under `<prefix>:dead-letters:jobfleet:`. On Redis Cluster the
 * queue's prefix is its hash tag (`{<prefix>:dead-letters}`), so the records
 * and every store key share one slot, and each script and pipeline of the
 * store stays in it; only `failed(queue)` lies in the source queue's slot and
 * is read on its own. Record ids always contain a `.`, so no record's job key
 * can be `…:jobfleet`.
 */
export interface DeadLetterKeys {
  /** The prefix of the `dead-letters` queue's BullMQ keys (`<prefix>:dead-letters:`). */
  readonly queuePrefix: string;
  /** A record's BullMQ job hash. */
  job(id: string): string;
  /** Every record, scored by failure time (ms). */
  readonly all: string;
  /** The records of one source queue. */
  byQueue(queue: string): string;
  /** The records of one job name of one source queue. */
  byJob(queue: string, name: string): string;
  /** The records of one job name, whatever the queue. */
  byName(name: string): string;
  /** SET: every source queue that has had a record. */
  readonly queues: string;
  /** SET: every job name a source queue has had a record for. */
  names(queue: string): string;
  /** ZSET: removed records of a source queue (id → failure time) that reconciliation must not bring back. */
  tombstones(queue: string): string;
  /** STRING: how far (failure time, ms) reconciliation has read the source queue's `failed` set. */
  reconcileCursor(queue: string): string;
  /** STRING: held while one process reconciles a source queue. */
  reconcileLock(queue: string): string;
  /** STRING: held while one process applies retention. */
  readonly retentionLock: string;
  /** ZSET: the source queue's records inside the spike-alert window (id → failure time). */
  alertWindow(queue: string): string;
  /** STRING with a TTL: set while the source queue's spike alert is cooling down. */
  alertCooldown(queue: string): string;
  /** The BullMQ key of a source queue's `failed` set. */
  failed(queue: string): string;
  /** ZSET: a source queue's started jobs whose completion webhook is not queued yet (see `pendingCallbacksKey`). */
  pendingCallbacks(queue: string): string;
  /** STRING: held while one process reconciles a source queue's completion webhooks. */
  callbacksLock(queue: string): string;
}

/** The store's keys; `client` tells whether they live on Redis Cluster (hash-tagged per queue). */
export function deadLetterKeys(
  prefix: string,
  client: { isCluster: boolean } = { isCluster: false },
): DeadLetterKeys {
  const queuePrefix = `${queueKeyBase(client, prefix, deadLetters.name)}:`;
  const own = `${queuePrefix}jobfleet`;
  return {
    queuePrefix,
    job: (id) => `${queuePrefix}${id}`,
    all: `${own}:idx:all`,
    byQueue: (queue) => `${own}:idx:queue:${queue}`,
    byJob: (queue, name) => `${own}:idx:job:${queue}:${name}`,
    byName: (name) => `${own}:idx:name:${name}`,
    queues: `${own}:queues`,
    names: (queue) => `${own}:names:${queue}`,
    tombstones: (queue) => `${own}:tombstones:${queue}`,
    reconcileCursor: (queue) => `${own}:reconcile:cursor:${queue}`,
    reconcileLock: (queue) => `${own}:reconcile:lock:${queue}`,
    retentionLock: `${own}:retention:lock`,
    alertWindow: (queue) => `${own}:alert:window:${queue}`,
    alertCooldown: (queue) => `${own}:alert:cooldown:${queue}`,
    failed: (queue) => `${queueKeyBase(client, prefix, queue)}:failed`,
    pendingCallbacks: (queue) => pendingCallbacksKey(bullmqPrefix(client, prefix, queue), queue),
    callbacksLock: (queue) => `${own}:callbacks:lock:${queue}`,
  };
}
