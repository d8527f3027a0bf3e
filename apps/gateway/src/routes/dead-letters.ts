import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { StoredDeadLetter } from '@jobfleet/dead-letter-store';
import type { FastifyPluginAsync } from 'fastify';
import { Type } from 'typebox';
import { authorizeScope, principalOf } from '../auth.js';
import { canSeeRecord, listVisible, redriveVisible, toHttpError } from '../dead-letter-access.js';
import { DeadLetterNotFoundError } from '../errors.js';
import { errorResponses } from '../openapi.js';
import { usingRedis } from '../redis-availability.js';
import { describeOutcome } from '../request-log.js';
import {
  BulkRedriveBody,
  BulkRedriveResult,
  DEFAULT_DEAD_LETTER_PAGE,
  DeadLetterListQuery,
  DeadLetterPage,
  DeadLetterParams,
  type DeadLetterView,
  DeadLetterView as DeadLetterViewSchema,
  RedriveAccepted,
  RedriveBody,
} from '../schemas/dead-letters.js';
import { DEAD_LETTERS_SCOPE } from '../scopes.js';

const view = ({ id, record }: StoredDeadLetter): DeadLetterView => ({ id, ...record });

const TAGS = ['dead-letters'];

/**
 * The dead-letter records (scope `dead-letters:manage`): list, read, redrive
 * (one, or in bulk by filter) and delete. A tenant key sees and acts on the
 * records of its tenant's jobs only; others answer 404.
 */
export const deadLetterRoutes: FastifyPluginAsync = async (app) => {
  const { auth, redis, checkRateLimit: rateLimit, metrics, deadLetters: store } = app;
  const typed = app.withTypeProvider<TypeBoxTypeProvider>();
  const onRequest = [authorizeScope(auth, DEAD_LETTERS_SCOPE), rateLimit];

  /**
   * Store work for a request: Redis outages → 503, store errors → their HTTP
   * answer; work that `writes` and gets no reply in time → 504 (it may have been done).
   */
  const withStore = async <T>(
    work: () => Promise<T>,
    id?: string,
    part?: 'querystring' | 'body',
    writes = false,
  ): Promise<T> => {
    try {
      return await usingRedis(redis, work, { writes });
    } catch (error) {
      throw toHttpError(error, id, part);
    }
  };

  /** The record, if the key may see it; else 404. */
  const visibleRecord = async (id: string, principal: ReturnType<typeof principalOf>) => {
    const stored = await withStore(() => store.get(id), id);
    if (!stored || !canSeeRecord(principal, stored)) throw new DeadLetterNotFoundError(id);
    return stored;
  };

  typed.get(
    '/v1/dead-letters',
    {
      schema: {
        tags: TAGS,
        summary: 'List dead-letter records',
        description:
          'Newest first, filtered by source queue, job name and failure time, one page at a time. A tenant key sees its own records only.',
        querystring: DeadLetterListQuery,
        response: {
          200: { ...DeadLetterPage, description: 'A page of records.' },
          ...errorResponses(400, 401, 403, 429, 503),
        },
      },
      onRequest,
    },
    async (request) => {
      const { queue, name, since, limit, cursor } = request.query;
      const page = await withStore(() =>
        listVisible(store, principalOf(request), {
          queue,
          name,
          since: since === undefined ? undefined : new Date(since),
          limit: limit ?? DEFAULT_DEAD_LETTER_PAGE,
          cursor,
        }),
      );
      const items = page.items.map(view);
      return page.nextCursor === undefined ? { items } : { items, nextCursor: page.nextCursor };
    },
  );

  typed.get(
    '/v1/dead-letters/:id',
    {
      schema: {
        tags: TAGS,
        summary: 'Get a dead-letter record',
        description:
          'The failed job: payload, options, failure reason, stack traces, times, and the redrive if any.',
        params: DeadLetterParams,
        response: {
          200: { ...DeadLetterViewSchema, description: 'The record.' },
          ...errorResponses(401, 403, [404, 'No such record, or one of another tenant.'], 429, 503),
        },
      },
      onRequest,
    },
    async (request) => view(await visibleRecord(request.params.id, principalOf(request))),
  );

  typed.post(
    '/v1/dead-letters/:id/redrive',
    {
      schema: {
        tags: TAGS,
        summary: 'Redrive a dead-letter record',
        description:
          "Sends the job back to its source queue with fresh attempts — with `data` replacing its payload, checked against the job's contract. The record keeps who did it, when, and the new job's id. A record is redriven once.",
        params: DeadLetterParams,
        body: RedriveBody,
        response: {
          202: { ...RedriveAccepted, description: 'The job is back in its queue.' },
          ...errorResponses(
            [
              400,
              'The payload does not fit the contract (`errors[]` point under `/data`); nothing was enqueued.',
            ],
            401,
            403,
            [404, 'No such record, or one of another tenant.'],
            [
              409,
              "Redriven before (or being redriven now), the record's queue has no contract, or — without `data` — the record's own payload no longer fits its contract (`errors[]` point into the record, under `/data`; send a replacement `data`).",
            ],
            413,
            415,
            429,
            503,
            504,
          ),
        },
      },
      onRequest,
      config: { confirmReplication: true },
      // The body is optional: no body means "the record's own payload".
      preValidation: async (request) => {
        if (request.body === undefined || request.body === null) request.body = {};
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      const principal = principalOf(request);
      await visibleRecord(id, principal);
      const data = request.body?.data;
      const sent = await withStore(
        () => store.redrive(id, data === undefined ? { by: principal.id } : { by: principal.id, data }),
        id,
        undefined,
        true,
      );
      metrics.deadLetterRedrives.inc({ queue: sent.queue });
      describeOutcome(request, 'dead letter redriven', {
        dead_letter_id: id,
        queue: sent.queue,
        job_id: sent.jobId,
        job_name: sent.jobName,
        client: principal.id,
      });
      return reply.code(202).send({ id, queue: sent.queue, jobName: sent.jobName, jobId: sent.jobId });
    },
  );

  typed.post(
    '/v1/dead-letters/redrive',
    {
      schema: {
        tags: TAGS,
        summary: 'Redrive dead-letter records in bulk',
        description:
          'Sends back, newest first, up to `limit` (required) records that match every given filter and were not redriven before, each with its own payload. One request reads at most 1,000 records and stops at `limit`; `nextCursor` lets the next request go on from there.',
        body: BulkRedriveBody,
        response: {
          200: { ...BulkRedriveResult, description: 'How many were sent back.' },
          ...errorResponses(400, 401, 403, 413, 415, 429, 503, 504),
        },
      },
      onRequest,
    },
    async (request) => {
      const principal = principalOf(request);
      const result = await withStore(
        () => redriveVisible(store, principal, request.body),
        undefined,
        'body',
        true,
      );
      for (const [queue, n] of Object.entries(result.byQueue)) metrics.deadLetterRedrives.inc({ queue }, n);
      describeOutcome(request, 'dead letters redriven', {
        client: principal.id,
        redriven: result.redriven,
        skipped: result.skipped,
        scanned: result.scanned,
      });
      const { redriven, skipped, jobIds, scanned, nextCursor } = result;
      return nextCursor === undefined
        ? { redriven, skipped, jobIds, scanned }
        : { redriven, skipped, jobIds, scanned, nextCursor };
    },
  );

  typed.delete(
    '/v1/dead-letters/:id',
    {
      schema: {
        tags: TAGS,
        summary: 'Delete a dead-letter record',
        description: 'The record is gone for good; its failed source job does not bring it back.',
        params: DeadLetterParams,
        response: {
          204: { ...Type.Null(), description: 'Deleted.' },
          ...errorResponses(401, 403, [404, 'No such record, or one of another tenant.'], 429, 503, 504),
        },
      },
      onRequest,
    },
    async (request, reply) => {
      const { id } = request.params;
      const principal = principalOf(request);
      await visibleRecord(id, principal);
      await withStore(() => store.remove(id), id, undefined, true);
      describeOutcome(request, 'dead letter deleted', { dead_letter_id: id, client: principal.id });
      return reply.code(204).send(null);
    },
  );
};
