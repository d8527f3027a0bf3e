import { findJob, type QueueContract, validate } from '@jobfleet/queue-contracts';
import { EndpointRefusedError, type JobContext, postSigned } from '@jobfleet/worker-runtime';
import type { Answer, HttpWorkerMetrics } from './metrics.js';

/** What the endpoint receives, as JSON. */
export interface PushRequest {
  id: string;
  queue: string;
  name: string;
  data: unknown;
  /** 1 on the first try, 2 on the first retry, … */
  attempt: number;
}

export interface PushOptions {
  contract: QueueContract;
  url: string;
  /** Signs each request (Standard Webhooks); unsigned when undefined. */
  secret: string | undefined;
  timeoutMs: number;
  maxResultBytes: number;
  metrics: HttpWorkerMetrics;
}

const USER_AGENT = 'jobfleet-http-worker';
const UTF8 = new TextDecoder('utf-8', { fatal: true });

/**
 * `webhook-id`: the same for every attempt of a job, so an endpoint can drop a
 * duplicate delivery (a retry after its answer was lost).
 */
export const messageId = (queue: string, jobId: string): string => `${queue}:${encodeURIComponent(jobId)}`;

/**
 * The handler of every job name of one queue: POSTs the job to the queue's
 * endpoint (worker-runtime's `postSigned`, shared with completion webhooks)
 * and turns the answer into the job's outcome.
 *
 * - 2xx with a JSON body: the result, checked against the job's result schema
 *   (an empty body is `null`); a body that is not JSON or does not fit fails
 *   the job for good.
 * - 408, 429, 5xx, a timeout or no connection: retried with the contract's
 *   backoff, waiting at least what `Retry-After` asks.
 * - any other answer (3xx, since redirects are not followed; other 4xx): the
 *   job fails for good and is dead-lettered.
 *
 * Cancelling the job aborts the request (the runtime aborts `signal`).
 */
export function createPushHandler(options: PushOptions) {
  const { contract, url, secret, timeoutMs, maxResultBytes, metrics } = options;
  const queue = contract.name;
  const count = (answer: Answer) => metrics.answers.inc({ queue, answer });

  return async (data: unknown, { job, signal, attempt }: JobContext): Promise<unknown> => {
    const id = job.id ?? '';
    const request: PushRequest = { id, queue, name: job.name, data, attempt };
    const body = JSON.stringify(request);
    const { status, body: answer } = await postSigned({
      url,
      body,
      secret,
      messageId: messageId(queue, id),
      timeoutMs,
      signal,
      job,
      maxBodyBytes: maxResultBytes,
      userAgent: USER_AGENT,
      onAnswer: count,
    });
    let value: unknown = null;
    if (answer.toString('utf8').trim() !== '') {
      try {
        value = JSON.parse(UTF8.decode(answer));
      } catch {
        throw new EndpointRefusedError(`the endpoint answered ${status} with a body that is not JSON`);
      }
    }
    const definition = findJob(contract, job.name);
    const check = definition ? validate(definition.result, value) : { ok: true as const };
    if (!check.ok) {
      throw new EndpointRefusedError(
        `the endpoint's result does not fit the "${job.name}" result schema: ${check.issues
          .slice(0, 10)
          .map((issue) => `${issue.path || '/'} ${issue.message}`)
          .join('; ')}`,
      );
    }
    return value;
  };
}
