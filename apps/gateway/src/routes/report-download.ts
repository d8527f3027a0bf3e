import { reports as reportsContract } from '@jobfleet/queue-contracts';
import {
  InvalidReportKeyError,
  ifNoneMatchHits,
  reportEtag,
  reportHeaders,
  type StoredReport,
} from '@jobfleet/report-store';
import type { FastifyPluginAsync } from 'fastify';
import { type Static, Type } from 'typebox';
import { authorizeQueue, principalOf } from '../auth.js';
import { ReportNotFoundError } from '../errors.js';
import { clientState } from '../job-state.js';
import { errorResponses } from '../openapi.js';
import { usingRedis } from '../redis-availability.js';
import { describeOutcome } from '../request-log.js';

const ReportParams = Type.Object({ jobId: Type.String({ minLength: 1, maxLength: 512 }) });

/** The tenant a report job renders for: its payload's `tenantId`. */
function reportTenantOf(job: { data: unknown } | undefined): string | undefined {
  const tenantId = (job?.data as { tenantId?: unknown } | undefined)?.tenantId;
  return typeof tenantId === 'string' ? tenantId : undefined;
}

/**
 * `GET /v1/reports/:jobId/file` (scope `reports:read`): the rendered report of
 * a `daily-report` job, streamed with its type, file name and an ETag (its
 * sha256); 304 when `If-None-Match` matches. The report is looked up under the
 * key's tenant — for a key without one, under the job's `data.tenantId` — so
 * another tenant's report is a 404 like a missing one. While the report is not
 * ready, the 404 names the job's state.
 */
export const reportDownloadRoutes: FastifyPluginAsync = async (app) => {
  const { auth, redis, checkRateLimit: rateLimit, queues, reports: store } = app;
  // Untyped replies: the body is a file stream, which the response schemas only document.
  app.get<{ Params: Static<typeof ReportParams> }>(
    '/v1/reports/:jobId/file',
    {
      schema: {
        tags: ['reports'],
        summary: 'Download a report',
        description:
          'The file a `daily-report` job rendered (CSV or PDF), as an attachment, with an `ETag` from its sha256; `If-None-Match` with it answers 304. 404 while the report is not ready (the detail names the job state), and for the report of another tenant.',
        params: ReportParams,
        response: {
          200: {
            description: 'The report file (`text/csv` or `application/pdf`).',
            content: {
              'text/csv': { schema: { type: 'string' } },
              'application/pdf': { schema: { type: 'string', format: 'binary' } },
            },
          },
          // No body and no content type: a 304 carries the representation's headers only (RFC 9110, 15.4.5).
          304: { description: 'The `If-None-Match` ETag matches: the copy held is current. No body.' },
          ...errorResponses(
            401,
            403,
            [404, 'No such report (yet: the detail names the job state), or one of another tenant.'],
            429,
            503,
          ),
        },
      },
      onRequest: [authorizeQueue(auth, 'read', reportsContract.name), rateLimit],
    },
    async (request, reply) => {
      const { jobId } = request.params;
      const principal = principalOf(request);
      const { queue } = queues.require(reportsContract.name);
      const job = await usingRedis(redis, () => queue.getJob(jobId));
      const jobTenant = reportTenantOf(job);
      const tenant = principal.tenant ?? jobTenant;
      let report: StoredReport | undefined;
      try {
        report = tenant === undefined ? undefined : await store.stat(tenant, jobId);
      } catch (error) {
        // A tenant id no report can have (a key's tenant outside the contract's alphabet): no report.
        if (!(error instanceof InvalidReportKeyError)) throw error;
      }
      if (!report) {
        // The job's state only for the report's own tenant; anyone else learns nothing about it.
        if (job && tenant !== undefined && jobTenant === tenant) {
          const state = clientState(await usingRedis(redis, () => job.getState()), job);
          if (state) throw new ReportNotFoundError(jobId, ` yet: the report job is ${state}`);
        }
        throw new ReportNotFoundError(jobId, '');
      }
      describeOutcome(request, 'report downloaded', {
        job_id: jobId,
        tenant: report.tenant,
        client: principal.id,
      });
      // Private (a tenant's data), but revalidated with the ETag rather than never stored.
      reply.header('cache-control', 'private, no-cache');
      if (ifNoneMatchHits(request.headers['if-none-match'], report)) {
        // `send()` with nothing: `send(null)` would serialize `null` (4 bytes of JSON) into a 304.
        return reply.code(304).header('etag', reportEtag(report)).send();
      }
      const file = await store.open(report.tenant, jobId);
      if (!file) throw new ReportNotFoundError(jobId, '');
      return reply.headers(reportHeaders(file)).send(file.stream);
    },
  );
};
