import type { DeadLetterStore } from '@jobfleet/dead-letter-store';
import type { DeadLetter } from '@jobfleet/queue-contracts';
import { deadLetters } from '@jobfleet/queue-contracts';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { BOARD_PATH } from './paths.js';
import { sendProblem } from './problem.js';

/** The gateway's redrive routes, which the board points operators to for what Retry cannot do. */
export const REDRIVE_API = {
  one: 'POST /v1/dead-letters/{id}/redrive',
  bulk: 'POST /v1/dead-letters/redrive',
} as const;

/** The prefix of the audit's `by` for redrives made from the dashboard: `dashboard:<username>`. */
export const DASHBOARD_REDRIVER = 'dashboard:';

/**
 * The `dead-letters` queue's description in bull-board: what Retry does
 * there, and where the rest of the redrive API is.
 */
export const DEAD_LETTER_BOARD_DESCRIPTION =
  `Retry on a record redrives it: a new job with its payload goes back to its source queue, once, ` +
  `audited as ${DASHBOARD_REDRIVER}<username>, and the record links to that job. Retry all redrives ` +
  `nothing. In bulk (with a limit) or with replacement data, use the gateway: ${REDRIVE_API.bulk}, ` +
  `${REDRIVE_API.one}. ${deadLetters.description}`;

type RedriveAudit = NonNullable<DeadLetter['redrive']>;

/** The record behind a `dead-letters` job's data, when it looks like one. */
function recordOf(data: unknown): Partial<DeadLetter> | undefined {
  const value = typeof data === 'string' ? safeParse(data) : data;
  return value && typeof value === 'object' ? (value as Partial<DeadLetter>) : undefined;
}

function safeParse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** A record's redrive audit entry, when it has been redriven. */
export function redriveOf(data: unknown): RedriveAudit | undefined {
  const redrive = recordOf(data)?.redrive;
  return redrive && typeof redrive.by === 'string' && typeof redrive.jobId === 'string' ? redrive : undefined;
}

const utc = (iso: string) => {
  const at = new Date(iso);
  return Number.isNaN(at.getTime()) ? iso : `${at.toISOString().slice(0, 19).replace('T', ' ')} UTC`;
};

/**
 * bull-board's `name` formatter for `dead-letters` jobs: the source queue and
 * job name instead of the bare `dead-letter`, and whether it was redriven, so
 * the list tells records apart and shows which are done with.
 */
export function deadLetterJobName(job: { name?: string; data?: unknown }): string {
  const record = recordOf(job.data);
  const base = record?.queue && record.jobName ? `${record.queue} · ${record.jobName}` : (job.name ?? '');
  return redriveOf(job.data) ? `${base} · redriven` : base;
}

/**
 * bull-board's link beside a redriven record: who redrove it and when, to
 * the new job in its source queue.
 */
export function redrivenJobLink(job: { data?: unknown }): { href: string; displayText: string } | undefined {
  const redrive = redriveOf(job.data);
  const queue = recordOf(job.data)?.queue;
  if (!redrive || !queue) return undefined;
  return {
    href: `${BOARD_PATH}/queue/${encodeURIComponent(queue)}/${encodeURIComponent(redrive.jobId)}`,
    displayText: `redriven by ${redrive.by} at ${utc(redrive.at)} as job ${redrive.jobId}`,
  };
}

const RETRY_ROUTE = `${BOARD_PATH}/api/queues/:queueName/:jobId/retry`;
const RETRY_ALL_ROUTE = `${BOARD_PATH}/api/queues/:queueName/retry/:queueStatus`;

/** What a store error means for the operator who pressed Retry. */
function refusal(error: { code?: unknown; message: string }, id: string) {
  switch (error.code) {
    case 'DEAD_LETTER_NOT_FOUND':
      return { status: 404, slug: 'dead-letter-not-found', title: 'No such dead-letter record' };
    case 'DEAD_LETTER_ALREADY_REDRIVEN':
      return { status: 409, slug: 'dead-letter-already-redriven', title: 'Already redriven' };
    case 'DEAD_LETTER_UNKNOWN_QUEUE':
      return { status: 409, slug: 'dead-letter-unknown-queue', title: 'Cannot be redriven' };
    // Retry sends no replacement data, so only the stored payload can be at fault.
    case 'DEAD_LETTER_STORED_PAYLOAD_INVALID':
      return {
        status: 409,
        slug: 'dead-letter-stored-payload-invalid',
        title: 'Stored payload no longer fits',
        hint: `; redrive it with replacement data through the gateway: ${REDRIVE_API.one.replace('{id}', encodeURIComponent(id))} with a "data" body`,
      };
    default:
      return undefined;
  }
}

/**
 * `preHandler` of the admin board: bull-board's Retry on a `dead-letters`
 * record would only run the record job again (the DLQ processor re-reads it),
 * which looks like a redrive and is not. Here it redrives the record through
 * the dead-letter store instead, exactly as the gateway does (contract check,
 * one redrive per record, audit entry `by: dashboard:<username>`), and
 * answers as bull-board's Retry does. Retry all is refused with a pointer to
 * the bulk redrive API, which takes a limit.
 */
export function deadLetterRetry(store: DeadLetterStore) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const route = request.routeOptions.url;
    if (route !== RETRY_ROUTE && route !== RETRY_ALL_ROUTE) return;
    const params = request.params as { queueName?: string; jobId?: string };
    if (params.queueName !== deadLetters.name) return;

    if (route === RETRY_ALL_ROUTE) {
      return sendProblem(reply, {
        status: 405,
        slug: 'dead-letters-retry-all',
        title: 'Retry all does not redrive dead letters',
        detail: `nothing was changed: redrive records one at a time with their Retry button, or in bulk (with a limit) through the gateway: ${REDRIVE_API.bulk}`,
        boardTitle: 'Retry all does not redrive dead letters',
      });
    }

    const id = params.jobId ?? '';
    const by = `${DASHBOARD_REDRIVER}${request.principal?.username ?? 'unknown'}`;
    try {
      const sent = await store.redrive(id, { by });
      request.log.info(
        { dead_letter_id: id, queue: sent.queue, job_id: sent.jobId, job_name: sent.jobName, by },
        'dead letter redriven',
      );
      return reply.code(204).send();
    } catch (error) {
      const known = error instanceof Error ? refusal(error as Error & { code?: unknown }, id) : undefined;
      // Anything else (Redis going away) is Fastify's to log and answer.
      if (!known) throw error;
      const { hint = '', ...problem } = known;
      return sendProblem(reply, {
        ...problem,
        detail: `${(error as Error).message}${hint}`,
        boardTitle: problem.title,
      });
    }
  };
}
