import type { Redis } from 'ioredis';
import type { AuthMode } from '../auth.js';
import type { GatewayMetrics } from '../metrics.js';
import type { GatewayQueues } from '../queues.js';

/** What the queue routes are built from; passed in, never imported as singletons. */
export interface QueueRouteOptions {
  queues: GatewayQueues;
  auth: AuthMode;
  /** The producer connection the queues use: checked before each Redis call. */
  redis: Redis;
  metrics: GatewayMetrics;
}
