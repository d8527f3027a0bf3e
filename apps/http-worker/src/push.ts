import { findJob, type QueueContract, validate } from '@jobfleet/queue-contracts';
import { signWebhook } from '@jobfleet/service-kit';
import { type JobContext, PermanentJobError } from '@jobfleet/worker-runtime';
import type { Answer, HttpWorkerMetrics } from './metrics.js';
import { parseRetryAfter, retryNoSoonerThan } from './retry-after.js';

/** What the endpoint receives, as JSON. */
export interface PushRequest {
  id: string;
  queue: string;
  name: string;
  data: unknown;
  /** 1 on the first try, 2 on the first retry, … */
  attempt: number;
}

/** The endpoint did not answer usefully this time (408, 429, 5xx, timeout, no connection): retried. */
export class EndpointUnavailableError extends Error {
  override name = 'EndpointUnavailableError';
}

/** The endpoint refused the job, or answered something that is not a result: never retried. */
export class EndpointRefusedError extends PermanentJobError {
  override name = 'EndpointRefusedError';
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
/** How much of a refusal's body the failure reason quotes. */
const REASON_BYTES = 300;

/**
 * `webhook-id`: the same for every attempt of a job, so an endpoint can drop a
 * duplicate delivery (a retry after its answer was lost).
 */
export const messageId = (queue: string, jobId: string): string => `${queue}:${encodeURIComponent(jobId)}`;

/** The body's first `limit` bytes, and whether there was more (which is then not downloaded). */
async function readUpTo(response: Response, limit: number): Promise<{ bytes: Buffer; truncated: boolean }> {
  const chunks: Buffer[] = [];
  let size = 0;
  if (response.body) {
    for await (const chunk of response.body) {
      chunks.push(Buffer.from(chunk));
      size += chunk.byteLength;
      // Leaving the loop cancels the stream.
      if (size > limit) return { bytes: Buffer.concat(chunks).subarray(0, limit), truncated: true };
    }
  }
  return { bytes: Buffer.concat(chunks), truncated: false };
}

/** The start of a refusal's body, on one line, for the failure reason. */
async function excerpt(response: Response): Promise<string> {
  const { bytes } = await readUpTo(response, REASON_BYTES).catch(() => ({ bytes: Buffer.alloc(0) }));
  const text = bytes
    .toString('utf8')
    .replace(/[\p{Cc}\s]+/gu, ' ')
    .trim();
  return text ? `: ${text}` : '';
}

const answerOf = (status: number): Answer =>
  status >= 500 ? '5xx' : status >= 400 ? '4xx' : status >= 300 ? '3xx' : '2xx';

/**
 * The handler of every job name of one queue: POSTs the job to the queue's
 * endpoint and turns the answer into the job's outcome.
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
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'user-agent': USER_AGENT,
      ...(secret ? signWebhook({ id: messageId(queue, id), body }, secret) : {}),
    };
    const timeout = AbortSignal.timeout(timeoutMs);
    let response: Response;
    let result: { bytes: Buffer; truncated: boolean };
    try {
      response = await fetch(url, {
        method: 'POST',
        headers,
        body,
        redirect: 'manual',
        signal: AbortSignal.any([signal, timeout]),
      });
      if (response.status < 200 || response.status >= 300) {
        count(answerOf(response.status));
        const reason = `the endpoint answered ${response.status}${await excerpt(response)}`;
        if (response.status === 408 || response.status === 429 || response.status >= 500) {
          const wait = parseRetryAfter(response.headers.get('retry-after'));
          if (wait !== undefined) retryNoSoonerThan(job, wait);
          throw new EndpointUnavailableError(reason);
        }
        if (response.status < 400) {
          throw new EndpointRefusedError(`${reason} (redirects are not followed)`);
        }
        throw new EndpointRefusedError(reason);
      }
      // The timeout covers the body too: an endpoint that sends headers and then stalls is retried.
      result = await readUpTo(response, maxResultBytes);
    } catch (error) {
      if (error instanceof EndpointUnavailableError || error instanceof EndpointRefusedError) throw error;
      // Cancelled: the runtime has already ended the job; this rejection goes nowhere.
      if (signal.aborted) throw error;
      if (timeout.aborted) {
        count('timeout');
        throw new EndpointUnavailableError(`the endpoint did not answer within ${timeoutMs} ms`);
      }
      count('connection_error');
      const cause = (error as { cause?: { code?: string; message?: string } }).cause;
      throw new EndpointUnavailableError(
        `could not reach the endpoint: ${cause?.code ?? cause?.message ?? (error as Error).message}`,
      );
    }
    count('2xx');
    if (result.truncated) {
      throw new EndpointRefusedError(
        `the endpoint answered ${response.status} with a body over ${maxResultBytes} bytes`,
      );
    }
    let value: unknown = null;
    if (result.bytes.toString('utf8').trim() !== '') {
      try {
        value = JSON.parse(UTF8.decode(result.bytes));
      } catch {
        throw new EndpointRefusedError(
          `the endpoint answered ${response.status} with a body that is not JSON`,
        );
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
