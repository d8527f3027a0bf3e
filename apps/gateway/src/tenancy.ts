import { tenantOf } from '@jobfleet/queue-contracts';
import type { Principal } from './auth.js';

/**
 * Which jobs and schedules a key sees. A key bound to a tenant sees only what
 * counts under that tenant — jobs it or a sibling key posted, and, for tenant
 * `default`, jobs posted without a tenant or straight through BullMQ. A key
 * without a tenant is a platform key (an operator's tool, a shared service):
 * it sees every tenant's work. Anything a key may not see is answered as if it
 * did not exist (404), so ids of other tenants are not disclosed.
 */
export function canSee(principal: Principal, item: { opts: object }): boolean {
  return principal.tenant === undefined || tenantOf(item) === principal.tenant;
}
