import { reports } from '@jobfleet/queue-contracts';
import type { preHandlerHookHandler } from 'fastify';
import { type Principal, principalOf } from './auth.js';
import { ReportTenantMismatchError } from './errors.js';

/** The job that renders a tenant's report: its `data.tenantId` names whose usage it reads. */
const DAILY_REPORT = 'daily-report';

/**
 * Refuses (422) a `daily-report` whose `data.tenantId` is not the key's own
 * tenant: a tenant key must not have another tenant's usage rendered (and
 * stored under that tenant). Keys without a tenant may ask for any tenant's.
 * Called on validated jobs, before anything is queued or an idempotency
 * record is claimed. `where` names the job in the message (`/jobs/3` in a batch).
 */
export function checkReportTenant(
  principal: Principal,
  queue: string,
  jobs: readonly { name: string; data: unknown }[],
  where: (index: number) => string = () => '',
): void {
  if (principal.tenant === undefined || queue !== reports.name) return;
  jobs.forEach((job, index) => {
    if (job.name !== DAILY_REPORT) return;
    const tenantId = (job.data as { tenantId?: unknown } | null)?.tenantId;
    if (typeof tenantId === 'string' && tenantId !== principal.tenant) {
      throw new ReportTenantMismatchError(
        `${where(index)}/data/tenantId`,
        principal.id,
        principal.tenant ?? '',
        tenantId,
      );
    }
  });
}

/**
 * {@link checkReportTenant} as the route hook of `queue`'s enqueue routes:
 * one hook on the `reports` routes (after validation, before the handler
 * claims an idempotency record), none on any other queue's, so the generic
 * enqueue handlers know nothing of reports.
 */
export function reportTenantHooks(
  queue: string,
  jobsOf: (body: unknown) => readonly { name: string; data: unknown }[],
  where?: (index: number) => string,
): preHandlerHookHandler[] {
  if (queue !== reports.name) return [];
  return [
    (request, _reply, done) => {
      checkReportTenant(principalOf(request), queue, jobsOf(request.body), where);
      done();
    },
  ];
}
