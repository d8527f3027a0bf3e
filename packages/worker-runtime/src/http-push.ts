import {
  classifyAddress,
  ipLiteralOf,
  PRIVATE_ADDRESS_CODE,
  PrivateAddressError,
  publicOnlyLookup,
  signWebhook,
} from '@jobfleet/service-kit';
import type { Job } from 'bullmq';
import { Agent, type Dispatcher, fetch, type Response } from 'undici';
import { PermanentJobError } from './errors.js';
import { parseRetryAfter, retryNoSoonerThan } from './retry-after.js';

/**
 * A signed JSON POST made by a job, with the outcome rules that HTTP push
 * workers and completion webhooks share: 2xx is success; 408, 429, 5xx, a
 * timeout or no connection is retried (waiting at least what `Retry-After`
 * asks); anything else (3xx, since redirects are not followed; other 4xx) fails
 * the job for good.
 */

/** How an endpoint answered one request: its status class, or why there was no answer. */
export type PushAnswer = '2xx' | '3xx' | '4xx' | '5xx' | 'timeout' | 'connection_error' | 'private_address';

/** The endpoint did not answer usefully this time (408, 429, 5xx, timeout, no connection): retried. */
export class EndpointUnavailableError extends Error {
  override name = 'EndpointUnavailableError';
}

/** The endpoint refused the job, or may not be called at all: never retried. */
export class EndpointRefusedError extends PermanentJobError {
  override name = 'EndpointRefusedError';
}

/**
 * An undici dispatcher that connects only to public addresses: names are
 * resolved once, every address is checked, and the socket connects to a
 * checked one (no DNS rebinding between check and use). Give it to
 * {@link postSigned} as `publicOnly`; close it at shutdown.
 */
export function publicOnlyAgent(): Agent {
  return new Agent({ connect: { lookup: publicOnlyLookup } });
}

export interface SignedPostOptions {
  url: string;
  /** The exact JSON text sent. */
  body: string;
  /** Signs the request (Standard Webhooks); unsigned when undefined. */
  secret: string | undefined;
  /** `webhook-id`: the same on every attempt of one message, so a receiver can drop duplicates. */
  messageId: string;
  timeoutMs: number;
  /** The job's signal: cancelling the job aborts the request. */
  signal: AbortSignal;
  /** The job whose next retry a `Retry-After` delays. */
  job: Job;
  /** The most bytes of a 2xx body read; a longer body fails the job for good. 0: the body is not read. */
  maxBodyBytes: number;
  userAgent: string;
  /** Refuse every destination that is not a public address (see {@link publicOnlyAgent}). */
  publicOnly?: Dispatcher | undefined;
  /** Told how each request ended (not for a cancelled one). */
  onAnswer?: (answer: PushAnswer) => void;
}

/** How much of a refusal's body the failure reason quotes. */
const REASON_BYTES = 300;

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

const answerOf = (status: number): PushAnswer =>
  status >= 500 ? '5xx' : status >= 400 ? '4xx' : status >= 300 ? '3xx' : '2xx';

const privateCause = (error: unknown): PrivateAddressError | undefined => {
  for (let e = error as { cause?: unknown; code?: unknown } | undefined; e; e = e.cause as typeof e) {
    if (e.code === PRIVATE_ADDRESS_CODE) return e as PrivateAddressError;
  }
  return undefined;
};

/**
 * POSTs `body` to `url` and resolves with the status and body of a 2xx answer.
 * Throws {@link EndpointUnavailableError} (retry) or {@link EndpointRefusedError}
 * (fail for good) otherwise; a cancelled job's abort is thrown as is.
 */
export async function postSigned(options: SignedPostOptions): Promise<{ status: number; body: Buffer }> {
  const { url, body, secret, timeoutMs, signal, job, maxBodyBytes, publicOnly } = options;
  const count = options.onAnswer ?? (() => {});
  if (publicOnly) {
    // A literal address is connected to without a lookup: it is checked here instead.
    const literal = ipLiteralOf(new URL(url));
    const kind = literal === undefined ? undefined : classifyAddress(literal);
    if (literal !== undefined && kind !== undefined) {
      count('private_address');
      throw new EndpointRefusedError(new PrivateAddressError(literal, literal, kind).message);
    }
  }
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'user-agent': options.userAgent,
    ...(secret ? signWebhook({ id: options.messageId, body }, secret) : {}),
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
      ...(publicOnly ? { dispatcher: publicOnly } : {}),
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
    if (maxBodyBytes === 0) {
      await response.body?.cancel();
      result = { bytes: Buffer.alloc(0), truncated: false };
    } else {
      // The timeout covers the body too: an endpoint that sends headers and then stalls is retried.
      result = await readUpTo(response, maxBodyBytes);
    }
  } catch (error) {
    if (error instanceof EndpointUnavailableError || error instanceof EndpointRefusedError) throw error;
    // Cancelled: the runtime has already ended the job; this rejection goes nowhere.
    if (signal.aborted) throw error;
    if (timeout.aborted) {
      count('timeout');
      throw new EndpointUnavailableError(`the endpoint did not answer within ${timeoutMs} ms`);
    }
    const refused = privateCause(error);
    if (refused) {
      count('private_address');
      throw new EndpointRefusedError(refused.message);
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
      `the endpoint answered ${response.status} with a body over ${maxBodyBytes} bytes`,
    );
  }
  return { status: response.status, body: result.bytes };
}
