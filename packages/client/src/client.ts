import { randomUUID } from 'node:crypto';
import { INVALID_RESPONSE, JobfleetError, NETWORK_ERROR, type ProblemIssue, WAIT_TIMEOUT } from './errors.js';
import {
  type BatchAccepted,
  type BatchJob,
  type CancelOutcome,
  type EnqueueAccepted,
  type EnqueueCallOptions,
  FINISHED_STATES,
  type JobDataOf,
  type JobNameOf,
  type JobStatus,
  type QueueName,
} from './types.js';

/** How failed calls are retried. */
export interface RetryOptions {
  /** Tries in total, the first included. Default 6. */
  maxAttempts?: number;
  /** No retry starts after this many ms from the first try. Default 30 000. */
  maxElapsedMs?: number;
  /** First backoff delay; it doubles on each retry, with full jitter. Default 200. */
  baseDelayMs?: number;
  /** Longest backoff delay (a longer `Retry-After` is still honoured). Default 5 000. */
  maxDelayMs?: number;
}

export interface ClientOptions {
  /** The gateway, e.g. `http://localhost:3000`. */
  baseUrl: string;
  /** An API key of `GATEWAY_API_KEYS`, sent as `Authorization: Bearer`. */
  apiKey: string;
  /** Retries of network errors, 429, 503 and unknown outcomes; `false` for none. */
  retry?: RetryOptions | false;
  /** How long one HTTP request may take (a `waitMs` is added to it). Default 10 000. */
  requestTimeoutMs?: number;
  /** Defaults to the global `fetch`. */
  fetch?: typeof fetch;
}

/** The longest wait one status request may ask the gateway for. */
const MAX_WAIT_MS = 30_000;

/** Answers that say nothing was done, or not known to be: safe to send again. */
const RETRYABLE_STATUS = new Set([429, 503]);
const RETRYABLE_CODES = new Set([
  // A write was sent to Redis but no reply came: the Idempotency-Key makes the retry safe.
  'JOBFLEET_OUTCOME_UNKNOWN',
  // The first try with this Idempotency-Key is still running on the gateway.
  'JOBFLEET_IDEMPOTENCY_IN_PROGRESS',
]);

interface Call {
  method: 'GET' | 'POST' | 'DELETE';
  path: string;
  body?: unknown;
  headers?: Record<string, string>;
  /** Added to the request timeout (a long-poll). */
  extraTimeoutMs?: number;
  signal?: AbortSignal | undefined;
}

/** Parses `Retry-After` (seconds or an HTTP date) into ms. */
function retryAfterMs(header: string | null): number | undefined {
  if (header === null) return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1_000;
  const date = Date.parse(header);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', abort);
      resolve();
    }, ms);
    const abort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', abort, { once: true });
  });

const jobPath = (queue: string, id: string) =>
  `/v1/queues/${encodeURIComponent(queue)}/jobs/${encodeURIComponent(id)}`;

/** A typed client of the jobfleet gateway; make one with {@link createClient}. */
export class JobfleetClient {
  readonly #baseUrl: string;
  readonly #apiKey: string;
  readonly #retry: Required<RetryOptions>;
  readonly #requestTimeoutMs: number;
  readonly #fetch: typeof fetch;

  constructor(options: ClientOptions) {
    this.#baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.#apiKey = options.apiKey;
    const retry = options.retry === false ? { maxAttempts: 1 } : (options.retry ?? {});
    this.#retry = {
      maxAttempts: retry.maxAttempts ?? 6,
      maxElapsedMs: retry.maxElapsedMs ?? 30_000,
      baseDelayMs: retry.baseDelayMs ?? 200,
      maxDelayMs: retry.maxDelayMs ?? 5_000,
    };
    this.#requestTimeoutMs = options.requestTimeoutMs ?? 10_000;
    this.#fetch = options.fetch ?? fetch;
  }

  /**
   * Posts one job. `name` must be a job of `queue` and `data` its payload, or
   * the call does not compile. Sends an Idempotency-Key (the given one, or a
   * new one) that stays the same on every retry of this call, so a retried
   * enqueue never makes a second job.
   */
  enqueue<Q extends QueueName, N extends JobNameOf<Q>>(
    queue: Q,
    name: N,
    data: JobDataOf<Q, N>,
    options: EnqueueCallOptions = {},
  ): Promise<EnqueueAccepted<Q>> {
    const { idempotencyKey = randomUUID(), ...jobOptions } = options;
    const body = Object.keys(jobOptions).length > 0 ? { name, data, options: jobOptions } : { name, data };
    return this.#call<EnqueueAccepted<Q>>({
      method: 'POST',
      path: `/v1/queues/${encodeURIComponent(queue)}/jobs`,
      body,
      headers: { 'idempotency-key': idempotencyKey },
    });
  }

  /** Posts 1 to 1,000 jobs of one queue, all or nothing, under one Idempotency-Key. */
  enqueueBatch<Q extends QueueName>(
    queue: Q,
    jobs: readonly BatchJob<Q>[],
    options: { idempotencyKey?: string } = {},
  ): Promise<BatchAccepted> {
    return this.#call<BatchAccepted>({
      method: 'POST',
      path: `/v1/queues/${encodeURIComponent(queue)}/jobs/batch`,
      body: { jobs },
      headers: { 'idempotency-key': options.idempotencyKey ?? randomUUID() },
    });
  }

  /**
   * The job's status. With `waitMs` (up to 30 000), the gateway answers as
   * soon as the job finishes, or after `waitMs` with its state then.
   */
  getJob<Q extends QueueName>(
    queue: Q,
    id: string,
    options: { waitMs?: number; signal?: AbortSignal } = {},
  ): Promise<JobStatus<Q>> {
    const waitMs = Math.max(0, Math.min(MAX_WAIT_MS, Math.floor(options.waitMs ?? 0)));
    return this.#call<JobStatus<Q>>({
      method: 'GET',
      path: waitMs > 0 ? `${jobPath(queue, id)}?waitMs=${waitMs}` : jobPath(queue, id),
      extraTimeoutMs: waitMs,
      signal: options.signal,
    });
  }

  /** Cancels a job: removes it if it has not started, else asks its worker to abort it. */
  async cancel(queue: QueueName, id: string): Promise<CancelOutcome> {
    const answer = await this.#call<{ state?: string } | null>({
      method: 'DELETE',
      path: jobPath(queue, id),
    });
    return answer?.state === 'cancelling' ? { state: 'cancelling' } : { state: 'removed' };
  }

  /**
   * Resolves with the job once it has finished — completed, failed for good or
   * cancelled (check `state`) — following it with the gateway's `waitMs`
   * long-poll; rejects with code `JOBFLEET_WAIT_TIMEOUT` after `timeoutMs`.
   */
  async waitFor<Q extends QueueName>(
    queue: Q,
    id: string,
    options: { timeoutMs: number; signal?: AbortSignal },
  ): Promise<JobStatus<Q>> {
    const deadline = Date.now() + options.timeoutMs;
    for (;;) {
      const remaining = deadline - Date.now();
      const job = await this.getJob(queue, id, {
        waitMs: Math.max(0, remaining),
        ...(options.signal ? { signal: options.signal } : {}),
      });
      if (FINISHED_STATES.has(job.state)) return job;
      if (deadline - Date.now() <= 0) {
        throw new JobfleetError(`job ${id} of ${queue} did not finish within ${options.timeoutMs} ms`, {
          status: 0,
          code: WAIT_TIMEOUT,
        });
      }
    }
  }

  /** One call, retried while the answer says it is safe to and the budget allows. */
  async #call<T>(call: Call): Promise<T> {
    const started = Date.now();
    const { maxAttempts, maxElapsedMs, baseDelayMs, maxDelayMs } = this.#retry;
    for (let attempt = 1; ; attempt++) {
      let error: JobfleetError;
      try {
        return await this.#send<T>(call);
      } catch (caught) {
        if (!(caught instanceof JobfleetError) || call.signal?.aborted) throw caught;
        error = caught;
      }
      const retryable =
        error.code === NETWORK_ERROR || RETRYABLE_STATUS.has(error.status) || RETRYABLE_CODES.has(error.code);
      if (!retryable || attempt >= maxAttempts) throw error;
      const backoff = Math.random() * Math.min(maxDelayMs, baseDelayMs * 2 ** (attempt - 1));
      const delay = Math.max(backoff, error.retryAfterMs ?? 0);
      if (Date.now() + delay - started > maxElapsedMs) throw error;
      await sleep(delay, call.signal);
    }
  }

  async #send<T>(call: Call): Promise<T> {
    const headers: Record<string, string> = {
      authorization: `Bearer ${this.#apiKey}`,
      accept: 'application/json, application/problem+json',
      ...call.headers,
    };
    if (call.body !== undefined) headers['content-type'] = 'application/json';
    const timeout = AbortSignal.timeout(this.#requestTimeoutMs + (call.extraTimeoutMs ?? 0));
    const signal = call.signal ? AbortSignal.any([call.signal, timeout]) : timeout;
    let response: Response;
    let text: string;
    try {
      response = await this.#fetch(`${this.#baseUrl}${call.path}`, {
        method: call.method,
        headers,
        ...(call.body === undefined ? {} : { body: JSON.stringify(call.body) }),
        signal,
      });
      text = await response.text();
    } catch (cause) {
      if (call.signal?.aborted) throw cause;
      throw new JobfleetError(`${call.method} ${call.path}: no answer from the gateway`, {
        status: 0,
        code: NETWORK_ERROR,
        cause,
      });
    }
    let body: unknown = null;
    if (text.length > 0) {
      try {
        body = JSON.parse(text);
      } catch (cause) {
        throw new JobfleetError(`${call.method} ${call.path}: the answer is not JSON`, {
          status: response.status,
          code: INVALID_RESPONSE,
          cause,
        });
      }
    }
    if (response.ok) return body as T;
    const problem = (body ?? {}) as {
      code?: string;
      detail?: string;
      errors?: ProblemIssue[];
      type?: string;
    };
    const wait = retryAfterMs(response.headers.get('retry-after'));
    throw new JobfleetError(problem.detail ?? `${call.method} ${call.path}: HTTP ${response.status}`, {
      status: response.status,
      code: problem.code ?? `HTTP_${response.status}`,
      ...(problem.errors ? { errors: problem.errors } : {}),
      ...(problem.type ? { type: problem.type } : {}),
      ...(wait === undefined ? {} : { retryAfterMs: wait }),
    });
  }
}

/** A client of the gateway at `baseUrl`, calling as the API key `apiKey`. */
export function createClient(options: ClientOptions): JobfleetClient {
  return new JobfleetClient(options);
}
