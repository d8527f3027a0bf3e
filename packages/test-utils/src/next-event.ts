/**
 * Resolves on the next `event` of an emitter, such as a Redis connection's
 * `ready` or `close`. Not `events.once`: that rejects on an `error` event, and a
 * connection waiting for Redis emits one per failed attempt (ECONNREFUSED),
 * which turns a wait set up before a restart into an unhandled rejection.
 */
export function nextEvent(
  emitter: { once(event: string, listener: () => void): unknown },
  event: string,
): Promise<void> {
  return new Promise<void>((resolve) => emitter.once(event, () => resolve()));
}
