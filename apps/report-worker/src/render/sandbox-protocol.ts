/** Messages from the sandbox thread to the worker's main thread. */
export type SandboxMessage = { type: 'progress'; percent: number } | { type: 'done'; body: Uint8Array };

export function isSandboxMessage(value: unknown): value is SandboxMessage {
  if (!value || typeof value !== 'object') return false;
  const message = value as Record<string, unknown>;
  return (
    (message.type === 'progress' && typeof message.percent === 'number') ||
    (message.type === 'done' && message.body instanceof Uint8Array)
  );
}
