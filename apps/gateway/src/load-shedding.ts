import underPressure from '@fastify/under-pressure';
import type { FastifyInstance } from 'fastify';
import type { GatewayConfig } from './config.js';
import { OverloadedError } from './errors.js';

/** Routes that always answer: probes and scrapes must see an overloaded gateway, not be shed by it. */
const NEVER_SHED = /^\/(health\/|metrics$)/;

/**
 * Sheds load: while the event loop lags (or is busy, or the heap is full)
 * beyond the configured limits, requests are answered at once with 503 and
 * `Retry-After: 1` instead of queueing up behind the backlog. `/health/*` and
 * `/metrics` are never shed.
 */
export async function registerLoadShedding(
  app: FastifyInstance,
  config: Pick<
    GatewayConfig,
    | 'pressureMaxEventLoopDelayMs'
    | 'pressureMaxEventLoopUtilization'
    | 'pressureMaxHeapUsedBytes'
    | 'pressureSampleIntervalMs'
  >,
): Promise<void> {
  // The first samples measure start-up (module loading, schema compilation), not load.
  let settledAt = Number.POSITIVE_INFINITY;
  app.addHook('onReady', async () => {
    settledAt = performance.now() + 2 * config.pressureSampleIntervalMs;
  });
  await app.register(underPressure, {
    maxEventLoopDelay: config.pressureMaxEventLoopDelayMs,
    maxEventLoopUtilization: config.pressureMaxEventLoopUtilization,
    maxHeapUsedBytes: config.pressureMaxHeapUsedBytes,
    sampleInterval: config.pressureSampleIntervalMs,
    // Over the last sample interval, not since start: a busy hour long ago is no pressure now.
    eventLoopUtilizationMode: 'interval',
    // Async, so the error reaches Fastify's error handler (a problem+json 503) as a rejection.
    pressureHandler: async (request, _reply, type, value) => {
      if (NEVER_SHED.test(request.url) || performance.now() < settledAt) return;
      request.log.warn({ pressure: type, value }, 'shedding load');
      throw new OverloadedError();
    },
  });
}
