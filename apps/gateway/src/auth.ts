import { findQueue } from '@jobfleet/queue-contracts';
import { ConfigError, type Logger } from '@jobfleet/service-kit';
import type { FastifyReply, FastifyRequest, onRequestHookHandler } from 'fastify';
import { ApiKeyRing, type RateLimit } from './api-keys.js';
import type { GatewayConfig } from './config.js';
import { ForbiddenError, UnauthorizedError } from './errors.js';
import { unknownQueue } from './queues.js';
import { ADMIN_SCOPE, grants, type QueueAction, scopeFor, scopesGranting } from './scopes.js';

/** Who sent a request: the API key's id, its tenant, its scopes and its own rate limit. */
export interface Principal {
  readonly id: string;
  readonly tenant: string | undefined;
  readonly scopes: ReadonlySet<string>;
  readonly rateLimit: RateLimit | undefined;
  /** Whether its jobs may ask for completion webhooks (its key has a `webhookSecret`). */
  readonly signsWebhooks?: boolean;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the authorization hook of routes that need a key; `null` elsewhere. */
    principal: Principal | null;
  }
}

/** With `GATEWAY_AUTH=disabled` every request acts as this principal. */
export const ANONYMOUS: Principal = Object.freeze({
  id: 'anonymous',
  tenant: undefined,
  scopes: new Set([ADMIN_SCOPE]),
  rateLimit: undefined,
});

export type AuthMode = { enabled: true; keys: ApiKeyRing } | { enabled: false };

/**
 * Decides how requests are authenticated. Refuses (a {@link ConfigError}) to
 * run without keys unless authentication is explicitly disabled, and to guess
 * between two key sources.
 */
export function resolveAuth(
  config: Pick<GatewayConfig, 'gatewayApiKeys' | 'gatewayApiKeysFile' | 'gatewayAuth'>,
  logger?: Logger,
): AuthMode {
  if (config.gatewayAuth === 'disabled') {
    logger?.warn(
      'GATEWAY_AUTH=disabled: every request is accepted without an API key and may do anything; never do this in production',
    );
    return { enabled: false };
  }
  if (config.gatewayApiKeys && config.gatewayApiKeysFile) {
    throw new ConfigError(['GATEWAY_API_KEYS, GATEWAY_API_KEYS_FILE: both are set; set only one of them']);
  }
  const keys = config.gatewayApiKeys ?? config.gatewayApiKeysFile ?? [];
  if (keys.length === 0) {
    throw new ConfigError([
      'GATEWAY_API_KEYS: no API keys configured; set GATEWAY_API_KEYS or GATEWAY_API_KEYS_FILE, or GATEWAY_AUTH=disabled for local development',
    ]);
  }
  return { enabled: true, keys: new ApiKeyRing(keys) };
}

const REALM = 'Bearer realm="jobfleet"';
const MAX_TOKEN_LENGTH = 1_024;

function challenge(reply: FastifyReply, extra = ''): void {
  reply.header('www-authenticate', `${REALM}${extra}`);
}

/** The principal of a request, or a 401 (with a `WWW-Authenticate` challenge). */
export function authenticate(mode: AuthMode, request: FastifyRequest, reply: FastifyReply): Principal {
  if (!mode.enabled) return ANONYMOUS;
  const header = request.headers.authorization;
  if (!header) {
    challenge(reply);
    throw new UnauthorizedError('an API key is required: send "Authorization: Bearer <key>"');
  }
  const token = /^Bearer +([\x21-\x7E]+) *$/i.exec(header)?.[1];
  if (!token || token.length > MAX_TOKEN_LENGTH) {
    challenge(reply, ', error="invalid_request"');
    throw new UnauthorizedError('the Authorization header must be "Bearer <key>"');
  }
  const key = mode.keys.find(token);
  if (!key) {
    challenge(reply, ', error="invalid_token"');
    throw new UnauthorizedError('the API key is not valid');
  }
  return key;
}

/**
 * An `onRequest` hook from a check that throws its refusal. Callback-style, so
 * the check costs a request no promise and no extra turn.
 */
function checkHook(check: (request: FastifyRequest, reply: FastifyReply) => void): onRequestHookHandler {
  return (request, reply, done) => {
    try {
      check(request, reply);
    } catch (error) {
      done(error as Error);
      return;
    }
    done();
  };
}

/**
 * An `onRequest` hook for a queue route: authenticate (401), the queue must
 * exist (404), the key must hold `<queue>:<action>` — or, given several
 * actions, one of them (403). It runs before the body is read, so an
 * unauthenticated or unauthorised request is refused before its body is parsed
 * or validated, and never enqueues anything.
 *
 * `queue` is the route's fixed queue (its scopes are then worked out once);
 * without it, the `:queue` path parameter.
 */
export function authorizeQueue(
  mode: AuthMode,
  action: QueueAction | readonly QueueAction[],
  queue?: string,
): onRequestHookHandler {
  const actions: readonly QueueAction[] = typeof action === 'string' ? [action] : action;
  const refuse = (reply: FastifyReply, principal: Principal, name: string) => {
    const scopes = actions.map((a) => scopeFor(name, a));
    challenge(reply, `, error="insufficient_scope", scope="${scopes.join(' ')}"`);
    return new ForbiddenError(principal.id, scopes.join('" or "'));
  };
  if (queue !== undefined) {
    const known = findQueue(queue) !== undefined;
    const granting = actions.flatMap((a) => scopesGranting(queue, a));
    return checkHook((request, reply) => {
      const principal = authenticate(mode, request, reply);
      request.principal = principal;
      if (!known) throw unknownQueue(queue);
      if (!granting.some((scope) => principal.scopes.has(scope))) throw refuse(reply, principal, queue);
    });
  }
  return checkHook((request, reply) => {
    const principal = authenticate(mode, request, reply);
    request.principal = principal;
    const name = (request.params as { queue?: string }).queue ?? '';
    if (!findQueue(name)) throw unknownQueue(name);
    if (!actions.some((a) => grants(principal.scopes, name, a))) throw refuse(reply, principal, name);
  });
}

/** An `onRequest` hook for routes that need a key but no particular scope (they filter by scope themselves). */
export function authenticated(mode: AuthMode): onRequestHookHandler {
  return checkHook((request, reply) => {
    request.principal = authenticate(mode, request, reply);
  });
}

/** The request's principal, set by the route's authorization hook. */
export function principalOf(request: FastifyRequest): Principal {
  const principal = request.principal;
  if (!principal) throw new Error(`${request.routeOptions.url} reached without a principal`);
  return principal;
}

/**
 * An `onRequest` hook for a route that needs one scope outside the queue
 * scopes (such as `dead-letters:manage`): authenticate (401), then the key
 * must hold `scope` or `admin` (403).
 */
export function authorizeScope(mode: AuthMode, scope: string): onRequestHookHandler {
  return checkHook((request, reply) => {
    const principal = authenticate(mode, request, reply);
    request.principal = principal;
    if (!principal.scopes.has(ADMIN_SCOPE) && !principal.scopes.has(scope)) {
      challenge(reply, `, error="insufficient_scope", scope="${scope}"`);
      throw new ForbiddenError(principal.id, scope);
    }
  });
}
