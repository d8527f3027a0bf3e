import { catalog, deadLetters } from '@jobfleet/queue-contracts';

/**
 * What an API key may do. A scope is `<queue>:<action>` for a catalog queue,
 * `*:<action>` for every catalog queue, `dead-letters:manage`, or `admin`
 * (everything). Actions do not imply each other: `manage` does not grant `read`.
 */
export type QueueAction = 'enqueue' | 'read' | 'manage';

export const QUEUE_ACTIONS: readonly QueueAction[] = ['enqueue', 'read', 'manage'];

export const ADMIN_SCOPE = 'admin';
export const DEAD_LETTERS_SCOPE = `${deadLetters.name}:manage`;

const SCOPE_SHAPES =
  '<queue>:enqueue|read|manage (queue: a catalog queue or *), dead-letters:manage or admin';

/** Why a scope string is not one; `undefined` when it is. */
export function scopeProblem(
  scope: string,
  queues: readonly string[] = Object.keys(catalog),
): string | undefined {
  if (scope === ADMIN_SCOPE || scope === DEAD_LETTERS_SCOPE) return undefined;
  const match = /^([^:]+):([^:]+)$/.exec(scope);
  const [, queue, action] = match ?? [];
  if (!queue || !action || !(QUEUE_ACTIONS as readonly string[]).includes(action)) {
    return `"${scope}" is not a scope; expected ${SCOPE_SHAPES}`;
  }
  if (queue !== '*' && !queues.includes(queue)) {
    return `"${scope}" names no known queue; queues: ${queues.join(', ')}`;
  }
  return undefined;
}

/** The scope string that allows `action` on `queue`. */
export function scopeFor(queue: string, action: QueueAction): string {
  return `${queue}:${action}`;
}

/** The scopes any one of which allows `action` on `queue`; `*` covers the catalog queues, not the dead letters. */
export function scopesGranting(queue: string, action: QueueAction): string[] {
  const scopes = [ADMIN_SCOPE, scopeFor(queue, action)];
  if (queue !== deadLetters.name) scopes.push(scopeFor('*', action));
  return scopes;
}

/** Whether `scopes` allow `action` on `queue` (see {@link scopesGranting}). */
export function grants(scopes: ReadonlySet<string>, queue: string, action: QueueAction): boolean {
  return scopesGranting(queue, action).some((scope) => scopes.has(scope));
}
