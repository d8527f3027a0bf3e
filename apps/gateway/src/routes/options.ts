import type { RedisClient } from '@jobfleet/service-kit';
import type { onRequestHookHandler } from 'fastify';
import type { AuthMode } from '../auth.js';
import type { IdempotencyStore } from '../idempotency.js';
import type { JobEvents } from '../job-events.js';
import type { GatewayMetrics } from '../metrics.js';
import type { GatewayQueues } from '../queues.js';

/** What the queue routes are built from; passed in, never imported as singletons. */
export interface QueueRouteOptions {
  queues: GatewayQueues;
  auth: AuthMode;
  /** The producer connection the queues use: checked before each Redis call. */
  redis: RedisClient;
  /** `JOBFLEET_PREFIX`: the key prefix of the queues, the cancel channel and the gateway's own records. */
  keyPrefix: string;
  metrics: GatewayMetrics;
  /** The per-key rate-limit hook; goes after the route's authorization hook. */
  rateLimit: onRequestHookHandler;
  idempotency: IdempotencyStore;
  /** Every queue's event stream, shared by the requests that wait for a job. */
  jobEvents: JobEvents;
  /** `WEBHOOK_ALLOW_PRIVATE_NETWORKS`: accept callback URLs on private IP literals. */
  allowPrivateCallbacks: boolean;
}
