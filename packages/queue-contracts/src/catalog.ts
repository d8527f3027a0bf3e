import type { QueueContract } from './contract.js';
import { emails } from './emails.js';
import { reports } from './reports.js';
import { webhooks } from './webhooks.js';

/** The queues producers post work to, by name. `dead-letters` is not among them. */
export const catalog = { emails, reports, webhooks } as const;

export type CatalogQueueName = keyof typeof catalog;

/** Looks a work queue up by name; `undefined` for names the catalog does not know. */
export function findQueue(name: string): QueueContract | undefined {
  return Object.hasOwn(catalog, name) ? catalog[name as CatalogQueueName] : undefined;
}
