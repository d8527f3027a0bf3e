import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { withOrigin } from '@jobfleet/queue-contracts';
import type { JobSchedulerJson } from 'bullmq';
import type { FastifyPluginAsync } from 'fastify';
import { Type } from 'typebox';
import { authorizeQueue, type Principal, principalOf } from '../auth.js';
import { originFor } from '../enqueue-jobs.js';
import { invalidRequest, ScheduleIdTakenError, ScheduleNotFoundError } from '../errors.js';
import { errorResponses } from '../openapi.js';
import { usingRedis } from '../redis-availability.js';
import { checkReportTenant } from '../report-tenant.js';
import { describeOutcome } from '../request-log.js';
import { repeatOptionsOf, scheduleIssues, toSchedule } from '../schedules.js';
import { QueueParams } from '../schemas/common.js';
import {
  Schedule,
  ScheduleIdParams,
  ScheduleList,
  ScheduleParams,
  scheduleBodySchema,
} from '../schemas/schedules.js';
import { canSee } from '../tenancy.js';
import { refuseUnknownQueues } from './unknown-queue.js';

/** A scheduler's template options carry the origin, like a job's options. */
const visible = (principal: Principal, scheduler: JobSchedulerJson) =>
  canSee(principal, { opts: scheduler.template?.opts ?? {} });

/**
 * BullMQ job schedulers, behind `<queue>:manage`:
 * `PUT /v1/queues/<queue>/schedules/:scheduleId` (201 created, 200 updated),
 * `GET /v1/queues/:queue/schedules` (with each one's next run),
 * `GET` and `DELETE /v1/queues/:queue/schedules/:scheduleId` (200, 204).
 * The jobs a schedule makes are checked against the contract when it is
 * saved, get the contract's default options, and record who saved it.
 */
export const scheduleRoutes: FastifyPluginAsync = async (app) => {
  const { queues, auth, redis, checkRateLimit: rateLimit } = app;
  const typed = app.withTypeProvider<TypeBoxTypeProvider>();

  for (const entry of queues.values()) {
    const { contract, queue } = entry;
    typed.put(
      `/v1/queues/${contract.name}/schedules/:scheduleId`,
      {
        schema: {
          tags: ['schedules'],
          summary: `Create or replace a schedule on ${contract.name}`,
          description:
            'Makes a job of `name` with `data` on a cron expression (optionally in a time zone) or every `everyMs` ms, from `startDate` to `endDate`, at most `limit` times. The payload is checked against the contract now.',
          params: ScheduleIdParams,
          body: scheduleBodySchema(contract),
          response: {
            201: { ...Schedule, description: 'Created.' },
            200: { ...Schedule, description: 'Replaced.' },
            ...errorResponses(
              400,
              401,
              403,
              404,
              [409, 'The schedule id is taken by another tenant.'],
              413,
              415,
              [422, 'A key bound to a tenant asked for a `daily-report` of another tenant.'],
              429,
              503,
              504,
            ),
          },
        },
        config: { jobNames: Object.keys(contract.jobs) },
        onRequest: [authorizeQueue(auth, 'manage', contract.name), rateLimit],
      },
      async (request, reply) => {
        const { scheduleId } = request.params;
        const body = request.body;
        const issues = scheduleIssues(body);
        if (issues.length > 0) throw invalidRequest(issues);
        const principal = principalOf(request);
        checkReportTenant(principal, contract.name, [body]);
        const saved = await usingRedis(
          redis,
          async () => {
            const before = await queue.getJobScheduler(scheduleId);
            if (before && !visible(principal, before))
              throw new ScheduleIdTakenError(contract.name, scheduleId);
            const { removeOnComplete, removeOnFail, attempts, backoff } = contract.defaultJobOptions;
            await queue.upsertJobScheduler(scheduleId, repeatOptionsOf(body), {
              name: body.name,
              data: body.data,
              opts: withOrigin({ removeOnComplete, removeOnFail, attempts, backoff }, originFor(principal)),
            });
            return { created: !before, scheduler: await queue.getJobScheduler(scheduleId) };
          },
          { writes: true },
        );
        if (!saved.scheduler) throw new ScheduleNotFoundError(contract.name, scheduleId);
        describeOutcome(request, saved.created ? 'schedule created' : 'schedule replaced', {
          queue: contract.name,
          schedule_id: scheduleId,
          client: principal.id,
        });
        return reply.code(saved.created ? 201 : 200).send(toSchedule(contract.name, saved.scheduler));
      },
    );
  }

  refuseUnknownQueues(app, auth, 'PUT', '/v1/queues/:queue/schedules/:scheduleId');

  typed.get(
    '/v1/queues/:queue/schedules',
    {
      schema: {
        tags: ['schedules'],
        summary: 'List the schedules of a queue',
        description: 'Every schedule the API key may see, soonest next run first.',
        params: QueueParams,
        response: {
          200: { ...ScheduleList, description: 'The schedules the API key may see.' },
          ...errorResponses(401, 403, 404, 429, 503),
        },
      },
      onRequest: [authorizeQueue(auth, 'manage'), rateLimit],
    },
    async (request) => {
      const { queue: name } = request.params;
      const principal = principalOf(request);
      const entry = queues.require(name);
      const schedulers = await usingRedis(redis, () => entry.queue.getJobSchedulers(0, -1, true));
      return {
        schedules: schedulers
          .filter((scheduler) => visible(principal, scheduler))
          .map((scheduler) => toSchedule(name, scheduler)),
      };
    },
  );

  typed.get(
    '/v1/queues/:queue/schedules/:scheduleId',
    {
      schema: {
        tags: ['schedules'],
        summary: 'Get a schedule',
        params: ScheduleParams,
        response: {
          200: { ...Schedule, description: 'The schedule.' },
          ...errorResponses(400, 401, 403, 404, 429, 503),
        },
      },
      onRequest: [authorizeQueue(auth, 'manage'), rateLimit],
    },
    async (request) => {
      const { queue: name, scheduleId } = request.params;
      const entry = queues.require(name);
      const scheduler = await usingRedis(redis, () => entry.queue.getJobScheduler(scheduleId));
      if (!scheduler || !visible(principalOf(request), scheduler)) {
        throw new ScheduleNotFoundError(name, scheduleId);
      }
      return toSchedule(name, scheduler);
    },
  );

  typed.delete(
    '/v1/queues/:queue/schedules/:scheduleId',
    {
      schema: {
        tags: ['schedules'],
        summary: 'Delete a schedule',
        description: 'No more jobs are made; the job already waiting for its next run is removed too.',
        params: ScheduleParams,
        response: {
          204: { ...Type.Null(), description: 'Deleted.' },
          ...errorResponses(400, 401, 403, 404, 429, 503, 504),
        },
      },
      onRequest: [authorizeQueue(auth, 'manage'), rateLimit],
    },
    async (request, reply) => {
      const { queue: name, scheduleId } = request.params;
      const principal = principalOf(request);
      const entry = queues.require(name);
      const removed = await usingRedis(
        redis,
        async () => {
          const scheduler = await entry.queue.getJobScheduler(scheduleId);
          if (!scheduler || !visible(principal, scheduler)) return false;
          return entry.queue.removeJobScheduler(scheduleId);
        },
        { writes: true },
      );
      if (!removed) throw new ScheduleNotFoundError(name, scheduleId);
      describeOutcome(request, 'schedule deleted', {
        queue: name,
        schedule_id: scheduleId,
        client: principal.id,
      });
      return reply.code(204).send(null);
    },
  );
};
