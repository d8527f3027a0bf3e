import { createHash } from 'node:crypto';
import type {
  FastifyInstance,
  FastifyReply,
  FastifyRequest,
  onErrorHookHandler,
  preHandlerHookHandler,
  preSerializationHookHandler,
} from 'fastify';
import fp from 'fastify-plugin';
import { principalOf } from '../auth.js';
import { OutcomeUnknownError } from '../errors.js';
import { type Claim, IdempotencyStore, requestFingerprint } from '../idempotency.js';
import { usingRedis } from '../redis-availability.js';
import { IDEMPOTENCY_KEY_HEADER } from '../schemas/common.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** The `Idempotency-Key` records (see {@link IdempotencyStore}). */
    idempotency: IdempotencyStore;
  }
}

/** `app.idempotency`, on `app.redis`; the route hooks below use it. */
export const idempotencyPlugin = fp<{ prefix: string; ttlMs: number }>(
  async (app, { prefix, ttlMs }) => {
    app.decorate('idempotency', new IdempotencyStore({ redis: app.redis, prefix, ttlMs }));
  },
  { name: 'jobfleet-idempotency', dependencies: ['jobfleet-redis'] },
);

/**
 * The id of the job a request with an `Idempotency-Key` enqueues (`index`: its
 * place in a batch): the same for every retry of the request, so a retry after
 * an unknown outcome finds the job if it was written, and BullMQ never adds a
 * second one with the same id. Neither an integer nor holding a `:`, like any
 * custom job id.
 */
export function idempotentJobId(principalId: string, idempotencyKey: string, index?: number): string {
  const hash = createHash('sha256').update(`${principalId}\n${idempotencyKey}`).digest('base64url');
  return index === undefined ? `ik-${hash}` : `ik-${hash}-${index}`;
}

/** The request's `Idempotency-Key`, if it has one. */
export const idempotencyKeyOf = (request: FastifyRequest): string | undefined => {
  const key = request.headers[IDEMPOTENCY_KEY_HEADER];
  return typeof key === 'string' ? key : undefined;
};

type Claimed = Extract<Claim, { kind: 'claimed' }>;

/** The claims of the requests being answered; only requests with an `Idempotency-Key` have one. */
const claims = new WeakMap<FastifyRequest, Claimed>();

/** The route hooks of {@link idempotencyHooks}, to list in the route's options. */
export interface IdempotencyHooks {
  /** Claims the key, or answers with the earlier request's answer; after validation and the route's checks. */
  claim: preHandlerHookHandler;
  /** Stores the answer before it is sent, so a retry that follows it at once finds it. */
  store: preSerializationHookHandler<unknown>;
  /** Frees the key, or marks it for takeover, when the request failed after claiming it. */
  settle: onErrorHookHandler;
}

/**
 * Makes a route do its work at most once per `Idempotency-Key` (when the
 * request has one): the first request runs the handler and its answer is
 * stored; a retry with the same key and body gets that answer back with
 * status 200, passed through `replay` (which marks its jobs `duplicate: true`
 * and sets what the handler sets besides the body, such as `location`).
 * Without the header each hook returns at once, and no Redis call is added.
 *
 * When the handler fails with {@link OutcomeUnknownError} (its write was sent,
 * no reply came), the key stays claimed and is marked for takeover: the retry
 * runs the handler again, which must then find what the first one may have
 * written (the enqueue routes derive their job ids from the key — see
 * {@link idempotentJobId}). Any other failure frees the key.
 */
export function idempotencyHooks<B>(
  app: FastifyInstance,
  replay: (request: FastifyRequest, reply: FastifyReply, stored: B) => B,
): IdempotencyHooks {
  const { idempotency: records, redis } = app;

  /** Whether the request was answered with a replay. */
  const claimOrReplay = async (request: FastifyRequest, reply: FastifyReply, key: string) => {
    const principal = principalOf(request);
    const url = request.routeOptions.url ?? request.url;
    const fingerprint = requestFingerprint(request.method, url, request.body);
    const claim = await usingRedis(redis, () => records.claim(principal.id, key, fingerprint));
    if (claim.kind === 'claimed') {
      claims.set(request, claim);
      return false;
    }
    reply.code(200).send(replay(request, reply, claim.response.body as B));
    return true;
  };

  return {
    // Callback-style hooks: a request without the header costs a property read and a call, no promise.
    claim(request, reply, done) {
      const key = idempotencyKeyOf(request);
      if (key === undefined) {
        done();
        return;
      }
      // After a replay is sent, `done` must not run the handler.
      claimOrReplay(request, reply, key).then((replayed) => {
        if (!replayed) done();
      }, done);
    },
    store(request, reply, payload, done) {
      const claim = claims.get(request);
      if (claim === undefined) {
        done(null, payload);
        return;
      }
      claims.delete(request);
      // The job exists now whatever happens to the record: answer with it, and log a failed save.
      claim.complete({ status: reply.statusCode, body: payload }).then(
        () => done(null, payload),
        (error: unknown) => {
          request.log.warn(
            { err: error },
            'could not store the Idempotency-Key record; a retry may enqueue again',
          );
          done(null, payload);
        },
      );
    },
    settle(request, _reply, error, done) {
      const claim = claims.get(request);
      if (claim !== undefined) {
        claims.delete(request);
        // Neither is awaited: while Redis hangs, the answer must not wait for it.
        if (error instanceof OutcomeUnknownError) {
          // The job may exist: the client's retry takes the key over and finds it (its id is derived from the key).
          void claim.abandon();
        } else {
          // Nothing was written: free the key, so the client's retry can do the work.
          void claim.release();
        }
      }
      done();
    },
  };
}
