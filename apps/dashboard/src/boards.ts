import type { IncomingMessage } from 'node:http';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import type { DeadLetterStore } from '@jobfleet/dead-letter-store';
import {
  deadLetters,
  findJob,
  type QueueContract,
  type ValidationIssue,
  validateJobData,
} from '@jobfleet/queue-contracts';
import type { RedisClient } from '@jobfleet/service-kit';
import type {
  FastifyInstance,
  FastifyReply,
  FastifyRequest,
  FastifyRouterOptions,
  RawServerDefault,
} from 'fastify';
import {
  DEAD_LETTER_BOARD_DESCRIPTION,
  deadLetterJobName,
  deadLetterRetry,
  redrivenJobLink,
} from './dead-letter-board.js';
import { BOARD_API_PATH, BOARD_PATH, LOGOUT_PATH } from './paths.js';
import { boardErrorAsProblem, PROBLEM_CONTENT_TYPE, sendProblem } from './problem.js';
import type { DashboardQueue, DashboardQueues } from './queues.js';
import { redisGate } from './redis-gate.js';
import { ROLES, type Role } from './users.js';

/** The route constraint that sends each request to its role's board. */
export const ROLE_CONSTRAINT = 'dashboardRole';

type ConstraintStrategy = NonNullable<FastifyRouterOptions<RawServerDefault>['constraints']>[string];

/**
 * A Fastify route constraint: bull-board is mounted twice at the same path,
 * once per role, and the router picks the board of the role behind the
 * request's session cookie. Requests without a session land on the viewer
 * board, where the authentication guard turns them away first.
 */
export function roleConstraint(roleOf: (request: IncomingMessage) => Role): ConstraintStrategy {
  return {
    name: ROLE_CONSTRAINT,
    mustMatchWhenDerived: false,
    storage() {
      const handlers = new Map<string, Parameters<ReturnType<ConstraintStrategy['storage']>['set']>[1]>();
      return {
        get: (role) => handlers.get(role) ?? null,
        set: (role, handler) => void handlers.set(role, handler),
      };
    },
    validate(value: unknown) {
      if (!ROLES.includes(value as Role))
        throw new Error(`${ROLE_CONSTRAINT} must be one of ${ROLES.join(', ')}`);
    },
    // Only bull-board's routes carry the constraint; other URLs need no session decoding.
    deriveConstraint: (request: IncomingMessage) =>
      request.url?.startsWith(BOARD_PATH) ? roleOf(request) : 'viewer',
  };
}

/**
 * The JSON Schema of a queue's job data for bull-board's Add-job form: the
 * contract's schema for a queue with one job type, or any of them (each titled
 * with its job name) for several. The server checks the job name too.
 */
export function jobDataSchemaOf(contract: QueueContract): Record<string, unknown> {
  const jobs = Object.entries(contract.jobs).map(([name, job]) => ({
    title: name,
    description: job.description,
    ...(job.data as Record<string, unknown>),
  }));
  if (jobs.length === 1 && jobs[0]) return jobs[0];
  return { title: `${contract.name} job data`, anyOf: jobs };
}

const describeIssues = (issues: ValidationIssue[]) =>
  issues.map((issue) => (issue.path ? `${issue.path} ${issue.message}` : issue.message)).join('; ');

/** Why job data from bull-board breaks the contract: which body field, and what is wrong. */
export interface JobDataProblem {
  field: 'name' | 'data';
  message: string;
}

/** Checks job data from bull-board against the contract, as the gateway does. */
export function checkJobData(
  contract: QueueContract,
  name: unknown,
  data: unknown,
): JobDataProblem | undefined {
  if (typeof name !== 'string' || !findJob(contract, name)) {
    return {
      field: 'name',
      message: `queue "${contract.name}" has no job named ${JSON.stringify(name ?? '')}; its jobs are: ${Object.keys(contract.jobs).join(', ')}`,
    };
  }
  const result = validateJobData(contract, name, data);
  return result.ok
    ? undefined
    : { field: 'data', message: `the data of a "${name}" job is invalid: ${describeIssues(result.issues)}` };
}

const ADD_ROUTE = `${BOARD_PATH}/api/queues/:queueName/add`;
const UPDATE_DATA_ROUTE = `${BOARD_PATH}/api/queues/:queueName/:jobId/update-data`;

/**
 * `preHandler`: job data added or edited in bull-board must pass the contract,
 * as through the gateway (bull-board itself checks only that it is JSON). The
 * refusal names the field, in the form bull-board's UI shows.
 */
function contractCheck(queues: DashboardQueues) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const route = request.routeOptions.url;
    if (route !== ADD_ROUTE && route !== UPDATE_DATA_ROUTE) return;
    const params = request.params as { queueName?: string; jobId?: string };
    const shown = queues.get(params.queueName ?? '');
    if (!shown) return;
    const body = (request.body ?? {}) as { name?: unknown; data?: unknown; jobData?: unknown };
    let problem: JobDataProblem | undefined;
    if (route === ADD_ROUTE) {
      problem = checkJobData(shown.contract, body.name, body.data);
    } else {
      const job = await shown.queue.getJob(params.jobId ?? '');
      if (!job) return;
      problem = checkJobData(shown.contract, job.name, body.jobData);
    }
    if (!problem) return;
    return sendProblem(reply, {
      status: 400,
      slug: 'invalid-job-data',
      title: 'Job data breaks the queue contract',
      detail: problem.message,
      key: 'ERRORS.INVALID_REQUEST_BODY',
      keyOptions: { field: route === ADD_ROUTE ? problem.field : 'jobData' },
    });
  };
}

export interface BoardOptions {
  queues: DashboardQueues;
  redis: RedisClient;
  /** Redrives `dead-letters` records when an admin presses Retry on one. */
  deadLetterStore: DeadLetterStore;
  authEnabled: boolean;
}

/**
 * Messages of a Redis that cannot serve right now rather than of a bug: a
 * transient reply, a Redis Cluster redirection ioredis could not follow to the
 * end, a cluster client without its slot map, a lost connection.
 */
const REDIS_TROUBLE =
  /\b(LOADING|BUSY|READONLY|MASTERDOWN|TRYAGAIN|CLUSTERDOWN|MOVED|ASK) |Too many Cluster redirections|Failed to refresh slots cache|None of startup nodes is available|Cluster isn't ready|Connection is closed|Command timed out|MaxRetriesPerRequest/;

/** bull-board's adapter for one queue; `dead-letters` records show their source and redrive. */
function adapterOf({ contract, queue }: DashboardQueue, readOnlyMode: boolean): BullMQAdapter {
  if (contract.name !== deadLetters.name) {
    return new BullMQAdapter(queue, {
      readOnlyMode,
      description: contract.description,
      jobDataSchema: jobDataSchemaOf(contract),
    });
  }
  const adapter = new BullMQAdapter(queue, {
    readOnlyMode,
    description: DEAD_LETTER_BOARD_DESCRIPTION,
    jobDataSchema: jobDataSchemaOf(contract),
    // No link for a record not redriven: bull-board's job schema has the link optional, its option type does not.
    externalJobUrl: redrivenJobLink as NonNullable<
      NonNullable<ConstructorParameters<typeof BullMQAdapter>[1]>['externalJobUrl']
    >,
  });
  adapter.setFormatter('name', (job: { name?: string; data?: unknown }) => deadLetterJobName(job));
  return adapter;
}

/**
 * bull-board's page links a Google Fonts style sheet, which the CSP refuses
 * (operators' browsers need not call out; the UI falls back to system fonts):
 * leaving the tag out spares every page a console error.
 */
export function withoutRemoteStyleSheets(page: string): string {
  return page.replace(/<link\b[^>]*>\s*/gi, (tag) =>
    /\brel=["']?stylesheet\b/i.test(tag) && /\bhref=["']?(https?:)?\/\//i.test(tag) ? '' : tag,
  );
}

/**
 * Mounts bull-board at {@link BOARD_PATH} twice: an admin board and a viewer
 * board whose every queue is in bull-board's read-only mode (no action buttons,
 * and the board itself refuses actions). Both show every contract queue plus
 * `dead-letters`, with the contracts' schemas as `jobDataSchema`; jobs added or
 * edited from the UI are checked against the contract on the server as well
 * (a `preHandler`, so the refusal can name the field for the UI). On the
 * admin board, Retry on a `dead-letters` record redrives it (see
 * {@link deadLetterRetry}); records show their source job and their redrive.
 * While Redis is away the API answers 503 at once.
 */
export async function registerBoards(app: FastifyInstance, options: BoardOptions): Promise<void> {
  const { queues, redis, deadLetterStore, authEnabled } = options;
  const redisUsable = redisGate(redis);
  for (const role of ROLES) {
    const readOnlyMode = role === 'viewer';
    const serverAdapter = new FastifyAdapter();
    serverAdapter.setBasePath(BOARD_PATH);
    createBullBoard({
      queues: queues.list().map((shown) => adapterOf(shown, readOnlyMode)),
      serverAdapter,
      options: {
        uiConfig: {
          boardTitle: 'jobfleet queues',
          miscLinks: [
            { text: 'Overview', url: '/' },
            ...(authEnabled ? [{ text: 'Log out', url: LOGOUT_PATH }] : []),
          ],
          hideDocsLink: true,
          ...(authEnabled
            ? readOnlyMode
              ? { environment: { label: 'viewer · read-only', color: '#34475e', textColor: '#ffffff' } }
              : {}
            : { environment: { label: 'authentication disabled', color: '#b3261e', textColor: '#ffffff' } }),
        },
      },
    });

    await app.register(async (board) => {
      board.addHook('onRoute', (route) => {
        route.constraints = { ...route.constraints, [ROLE_CONSTRAINT]: role };
      });
      // Fail fast while Redis is away: a producer connection has no offline queue, and BullMQ would
      // otherwise wait for the connection inside some calls.
      board.addHook('onRequest', async (request, reply) => {
        if (!request.url.startsWith(BOARD_API_PATH) || (await redisUsable())) return;
        return sendProblem(reply, {
          status: 503,
          slug: 'redis-unavailable',
          title: 'Redis unavailable',
          detail: `Redis is unreachable (${redis.status}); retry shortly`,
          key: 'ERRORS.REDIS_UNAVAILABLE',
        });
      });
      // bull-board answers 500 for any thrown error (its message in the body); one caused by Redis
      // going away, or by a cluster redirection that could not be followed, is a 503.
      board.addHook('onSend', async (_request, reply, payload) => {
        if (
          reply.statusCode === 500 &&
          (redis.status !== 'ready' || (typeof payload === 'string' && REDIS_TROUBLE.test(payload)))
        )
          reply.code(503);
        const type = String(reply.getHeader('content-type') ?? '');
        if (reply.statusCode >= 400 && typeof payload === 'string' && type.startsWith('application/json')) {
          // bull-board's own error bodies: problems with a code, like every other error.
          const problem = boardErrorAsProblem(reply.statusCode, payload);
          if (problem !== undefined) {
            reply.type(PROBLEM_CONTENT_TYPE);
            return problem;
          }
        }
        return typeof payload === 'string' && type.startsWith('text/html')
          ? withoutRemoteStyleSheets(payload)
          : payload;
      });
      board.addHook('preHandler', contractCheck(queues));
      if (!readOnlyMode) board.addHook('preHandler', deadLetterRetry(deadLetterStore));
      await board.register(serverAdapter.registerPlugin(), { prefix: BOARD_PATH });
    });
  }
}
