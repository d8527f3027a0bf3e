import { setTimeout as sleep } from 'node:timers/promises';
import { API_KEY } from './fleet.js';

/**
 * What the clients of one scenario saw. Every answer counts toward the
 * slowest answer; 503 and 504 (retried, as the README says) are not failures;
 * any other 5xx is.
 */
export class Tally {
  /** Keys whose request was finally answered 200 or 202, with the recipient that marks their e-mail. */
  readonly accepted = new Map<string, string>();
  /** The job id each accepted key was answered with. */
  readonly jobIds = new Map<string, string>();
  /** `performance.now()` of every 2xx answer. */
  readonly okAt: number[] = [];
  /** Answers by status and problem code, e.g. `503 JOBFLEET_REDIS_UNAVAILABLE`. */
  readonly answers = new Map<string, number>();
  /** 5xx answers other than 503 and 504, with what they said. */
  readonly serverErrors: string[] = [];
  /** 4xx answers the client could not retry (the suite sends only valid requests). */
  readonly refused: string[] = [];
  /** Keys never accepted before the scenario's deadline. */
  readonly unanswered: string[] = [];
  /** The longest time from a key's first request to its acceptance, and that key. */
  slowestAcceptance = { ms: 0, key: '' };
  /**
   * Keys answered 409 "in progress" although no other request with them was in flight (each key
   * has one client, one request at a time): a stale claim. The value: from the key's first request
   * to its acceptance.
   */
  readonly staleClaims = new Map<string, number>();
  networkErrors = 0;
  slowestMs = 0;

  count(label: string): void {
    this.answers.set(label, (this.answers.get(label) ?? 0) + 1);
  }
}

/** How the suite's clients behave. */
export interface ClientOptions {
  readonly gatewayUrl: string;
  /** No request is sent after this (`performance.now()`); its key counts as unanswered. */
  readonly deadline: number;
  /** The longest `Retry-After` honoured; longer ones are cut to it (the short profile). */
  readonly retryAfterCapMs: number;
  /** A request without an answer by then is abandoned and retried, as a network error. */
  readonly requestTimeoutMs?: number;
}

/** The recipient whose messages count as the side effects of `key`. */
export const recipientOf = (key: string): string => `${key}@chaos.test`;

/**
 * Enqueues one e-mail with `Idempotency-Key: key` and retries as the README
 * tells clients to: on a network error or no answer, and on 429, 503 and 504
 * after `Retry-After`, always with the same key and body, until it is
 * accepted or the deadline passes.
 */
export async function enqueue(key: string, options: ClientOptions, tally: Tally): Promise<void> {
  const to = recipientOf(key);
  const body = JSON.stringify({ name: 'notification', data: { to, subject: `chaos ${key}`, text: key } });
  const firstTry = performance.now();
  for (;;) {
    if (performance.now() > options.deadline) {
      tally.unanswered.push(key);
      return;
    }
    const started = performance.now();
    let status: number;
    let text: string;
    let retryAfter: string | null;
    try {
      const response = await fetch(`${options.gatewayUrl}/v1/queues/emails/jobs`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${API_KEY}`,
          'content-type': 'application/json',
          'idempotency-key': key,
        },
        body,
        signal: AbortSignal.timeout(options.requestTimeoutMs ?? 10_000),
      });
      status = response.status;
      retryAfter = response.headers.get('retry-after');
      text = await response.text();
    } catch {
      tally.slowestMs = Math.max(tally.slowestMs, performance.now() - started);
      tally.networkErrors += 1;
      tally.count('network error');
      await sleep(250);
      continue;
    }
    tally.slowestMs = Math.max(tally.slowestMs, performance.now() - started);
    const code = /"code":"([A-Z_]+)"/.exec(text)?.[1];
    tally.count(code ? `${status} ${code}` : String(status));
    if (status !== 409 && tally.staleClaims.has(key))
      tally.staleClaims.set(key, performance.now() - firstTry);
    if (status === 200 || status === 202) {
      tally.accepted.set(key, to);
      const id = /"id":"([^"]+)"/.exec(text)?.[1];
      if (id) tally.jobIds.set(key, id);
      tally.okAt.push(performance.now());
      if (performance.now() - firstTry > tally.slowestAcceptance.ms) {
        tally.slowestAcceptance = { ms: performance.now() - firstTry, key };
      }
      return;
    }
    if (status === 429 || status === 503 || status === 504) {
      const seconds = Number(retryAfter ?? 1);
      await sleep(Math.min(Number.isFinite(seconds) ? seconds * 1_000 : 1_000, options.retryAfterCapMs));
      continue;
    }
    if (status === 409 && code === 'JOBFLEET_IDEMPOTENCY_IN_PROGRESS') {
      if (!tally.staleClaims.has(key)) tally.staleClaims.set(key, 0);
      await sleep(250);
      continue;
    }
    if (status >= 500) {
      tally.serverErrors.push(`${status} ${text.slice(0, 200)}`);
      await sleep(250);
      continue;
    }
    tally.refused.push(`${key}: ${status} ${text.slice(0, 200)}`);
    return;
  }
}

/** A stream of requests: `concurrency` clients, each sending its next key `pauseMs` after the last answer. */
export interface Load {
  readonly tally: Tally;
  /** Resolves once every key was accepted, refused or given up. */
  readonly done: Promise<void>;
}

export function startLoad(
  keys: Iterable<string>,
  options: ClientOptions & { concurrency: number; pauseMs: number },
  tally = new Tally(),
): Load {
  const source = keys[Symbol.iterator]();
  const client = async () => {
    for (;;) {
      const { value: key, done } = source.next();
      if (done) return;
      await enqueue(key, options, tally);
      if (options.pauseMs > 0) await sleep(options.pauseMs);
    }
  };
  const done = Promise.all(Array.from({ length: options.concurrency }, client)).then(() => {});
  return { tally, done };
}

/** `count` keys of one scenario: `<scenario>-<n>`. */
export const keysOf = (scenario: string, count: number, from = 0): string[] =>
  Array.from({ length: count }, (_, i) => `${scenario}-${from + i}`);

/** Keys `<scenario>-<n>` for as long as `running()` holds, and at most `max` of them. */
export function* keysWhile(scenario: string, running: () => boolean, max: number): Generator<string> {
  for (let i = 0; i < max && running(); i++) yield `${scenario}-${i}`;
}
