import { webhooks } from '@jobfleet/queue-contracts';
import { classifyAddress, ipLiteralOf } from '@jobfleet/service-kit';
import type { preHandlerHookHandler } from 'fastify';
import { type Principal, principalOf } from './auth.js';
import { CallbackUnsignableError, CallbackUrlRefusedError, withIssues } from './errors.js';
import type { EnqueueBody } from './schemas/enqueue.js';

/** Why a callback URL is refused at enqueue, or `undefined` when it may be used. */
export function callbackUrlProblem(text: string, allowPrivateNetworks: boolean): string | undefined {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return 'must be an absolute http or https URL';
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return `must be an http or https URL, not ${url.protocol.slice(0, -1)}`;
  }
  if (allowPrivateNetworks) return undefined;
  const literal = ipLiteralOf(url);
  const kind = literal === undefined ? undefined : classifyAddress(literal);
  if (literal === undefined || kind === undefined) return undefined;
  // A host name is checked after resolution, by the webhooks-worker, on every delivery.
  return `${literal} is a ${kind} address; callbacks go to public addresses only`;
}

/**
 * Refuses (400) a job whose `options.callback` cannot be honoured: a URL that
 * is not http(s) or names a private, loopback or link-local address
 * (`JOBFLEET_CALLBACK_URL_REFUSED`), a key without a `webhookSecret` to sign
 * it (`JOBFLEET_CALLBACK_UNSIGNABLE`), or a job of the `webhooks` queue itself.
 * Called on validated jobs, before anything is queued or an idempotency
 * record is claimed. `where` names the job in the message (`/jobs/3` in a batch).
 */
export function checkCallbacks(
  principal: Principal,
  queue: string,
  jobs: readonly EnqueueBody[],
  allowPrivateNetworks: boolean,
  where: (index: number) => string = () => '',
): void {
  jobs.forEach((job, index) => {
    const callback = job.options?.callback;
    if (!callback) return;
    const path = `${where(index)}/options/callback/url`;
    const refuse = (message: string) =>
      withIssues(new CallbackUrlRefusedError(path, message), [{ path, message }]);
    if (queue === webhooks.name) throw refuse('a webhook delivery does not announce itself');
    const problem = callbackUrlProblem(callback.url, allowPrivateNetworks);
    if (problem) throw refuse(problem);
    if (!principal.signsWebhooks) {
      const error = new CallbackUnsignableError(path, principal.id);
      throw withIssues(error, [{ path, message: error.message.slice(path.length + 2) }]);
    }
  });
}

/**
 * {@link checkCallbacks} as a `preHandler` hook of `queue`'s enqueue routes:
 * after validation, before the idempotency hook claims the request's key.
 */
export function callbackHook(
  queue: string,
  jobsOf: (body: unknown) => readonly EnqueueBody[],
  allowPrivateNetworks: boolean,
  where?: (index: number) => string,
): preHandlerHookHandler {
  return (request, _reply, done) => {
    checkCallbacks(principalOf(request), queue, jobsOf(request.body), allowPrivateNetworks, where);
    done();
  };
}
