import { checkWhenReady, type Logger, observabilityPlugin, redisReadinessCheck } from '@jobfleet/service-kit';
import fp from 'fastify-plugin';
import type { Registry } from 'prom-client';
import { queueGaugeRefresher } from '../queue-stats.js';

export interface MetricsPluginOptions {
  logger: Logger;
  /** What `/metrics` serves (a cluster worker's: the whole cluster's). */
  source: Pick<Registry, 'contentType' | 'metrics'>;
  /** Whether this process reads the queue gauges at a scrape; always when omitted. */
  readsQueueGauges?: () => boolean;
}

/**
 * `/metrics` (behind `METRICS_TOKEN` when set) and `/health/*` (ready when
 * Redis answers under the prefix), and the queue gauges `app.metrics` reads
 * from Redis at a scrape, cached for `QUEUE_METRICS_CACHE_MS`.
 */
export const metricsPlugin = fp<MetricsPluginOptions>(
  async (app, { logger, source, readsQueueGauges }) => {
    const { config, metrics, queues, redis } = app;
    const redisCheck = redisReadinessCheck(redis, logger, { prefix: config.jobfleetPrefix });
    await app.register(observabilityPlugin, {
      registry: source,
      checks: [redisCheck],
      metricsToken: config.metricsToken,
    });
    app.addHook('onReady', async () => checkWhenReady(redis, redisCheck));

    const refresh = queueGaugeRefresher({
      redis,
      queues,
      metrics,
      cacheMs: config.queueMetricsCacheMs,
      logger,
    });
    const refreshQueueGauges = readsQueueGauges
      ? () => (readsQueueGauges() ? refresh() : Promise.resolve())
      : refresh;
    metrics.refreshQueueGauges = refreshQueueGauges;
    app.addHook('onClose', async () => {
      // Another gateway on the same registry may have taken over since.
      if (metrics.refreshQueueGauges === refreshQueueGauges) metrics.refreshQueueGauges = undefined;
    });
  },
  { name: 'jobfleet-metrics', dependencies: ['jobfleet-redis', 'jobfleet-queues'] },
);
