import cluster, { type Worker } from 'node:cluster';
import type { Logger } from '@jobfleet/service-kit';
import { AggregatorRegistry, type Registry } from 'prom-client';

/**
 * `GATEWAY_WORKERS=<n|auto>`: n gateway processes share one port (node:cluster);
 * the primary only supervises them. It alone takes signals: on SIGTERM or
 * SIGINT it tells every worker over IPC to shut down gracefully and exits
 * once all have (1 if any failed or overran the hard timeout); a second
 * signal kills them. A worker that dies while serving is replaced (backoff up
 * to 30 s); one that dies before it ever listened stops the whole gateway
 * with its exit code, since its replacements would fail the same way.
 * `/metrics`, answered by whichever worker takes the scrape, shows the sum
 * over the workers that serve (prom-client's aggregation, gathered by the
 * primary; a worker still starting is not asked, so it cannot hold a scrape
 * up until it times out). The queue gauges,
 * which would read alike in every worker, are read from Redis by one worker
 * only, named by the primary: the first to listen, and when it dies, another
 * one still serving at once (not its replacement, which takes a while).
 */

const SHUTDOWN = 'jobfleet:shutdown';
/** Worker → primary: the cluster's metrics, please; primary → worker: here they are. */
const METRICS = 'jobfleet:metrics';
/** Primary → worker: your registry's metrics, please; worker → primary: here they are. */
const METRICS_PART = 'jobfleet:metrics-part';
/** Primary → one worker: from now on, you read the queue gauges. */
const QUEUE_GAUGES = 'jobfleet:queue-gauges';
const METRICS_TIMEOUT_MS = 5_000;
/** How long the primary waits for the workers' parts: within the asking worker's own wait. */
const PARTS_TIMEOUT_MS = 4_000;
const MAX_RESTART_DELAY_MS = 30_000;

interface MetricsRequest {
  type: typeof METRICS;
  id: number;
}
interface MetricsPart {
  type: typeof METRICS_PART;
  id: number;
  metrics?: object[];
  error?: string;
}
interface MetricsReply {
  type: typeof METRICS;
  id: number;
  text?: string;
  error?: string;
}

/** The `type` of a message from the primary, if it is one of ours. */
const typeOf = (message: unknown): unknown =>
  typeof message === 'object' && message !== null ? (message as { type?: unknown }).type : undefined;

export interface PrimaryOptions {
  workers: number;
  logger: Logger;
  /** Each worker's own hard shutdown timeout; the primary waits a little longer before it kills. */
  shutdownTimeoutMs: number;
}

/** Runs the primary: forks the workers and supervises them until a signal ends the gateway. */
export function runPrimary({ workers, logger, shutdownTimeoutMs }: PrimaryOptions): void {
  const listening = new WeakSet<Worker>();
  let stopping = false;
  let restartDelayMs = 1_000;
  let failed = false;
  /** The worker that reads the queue gauges for every scrape. */
  let gaugeReader: Worker | undefined;
  const readGaugesOn = (worker: Worker) => {
    gaugeReader = worker;
    worker.send({ type: QUEUE_GAUGES });
  };

  let nextCollection = 0;
  const collections = new Map<number, (part: MetricsPart) => void>();
  /** The metrics of every worker that serves, aggregated; not of one still starting, which could not answer. */
  const clusterMetrics = () =>
    new Promise<string>((resolve, reject) => {
      const serving = Object.values(cluster.workers ?? {}).filter(
        (worker): worker is Worker => worker !== undefined && listening.has(worker) && worker.isConnected(),
      );
      const id = nextCollection++;
      const parts: object[][] = [];
      const timer = setTimeout(() => {
        collections.delete(id);
        reject(new Error('a gateway worker did not send its metrics in time'));
      }, PARTS_TIMEOUT_MS);
      collections.set(id, (part) => {
        if (part.metrics === undefined) {
          clearTimeout(timer);
          collections.delete(id);
          reject(new Error(part.error ?? 'no metrics'));
          return;
        }
        parts.push(part.metrics);
        if (parts.length < serving.length) return;
        clearTimeout(timer);
        collections.delete(id);
        resolve(AggregatorRegistry.aggregate(parts).metrics());
      });
      // The asking worker serves, so there is at least one.
      for (const worker of serving) worker.send({ type: METRICS_PART, id });
    });

  const fork = () => {
    const worker = cluster.fork();
    worker.on('listening', () => {
      listening.add(worker);
      restartDelayMs = 1_000;
      if (gaugeReader === undefined) readGaugesOn(worker);
    });
    worker.on('message', (message: unknown) => {
      const type = typeOf(message);
      if (type === METRICS_PART) {
        const part = message as MetricsPart;
        collections.get(part.id)?.(part);
      } else if (type === METRICS) {
        const { id } = message as MetricsRequest;
        clusterMetrics().then(
          (text) => worker.send({ type: METRICS, id, text } satisfies MetricsReply),
          (error: Error) => worker.send({ type: METRICS, id, error: error.message } satisfies MetricsReply),
        );
      }
    });
  };

  const finish = () => {
    if (Object.keys(cluster.workers ?? {}).length > 0) return;
    logger.info({ failed }, 'gateway workers stopped');
    logger.flush();
    process.exit(failed ? 1 : 0);
  };

  const stop = (reason: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ reason }, 'stopping gateway workers');
    for (const worker of Object.values(cluster.workers ?? {})) worker?.send({ type: SHUTDOWN });
    setTimeout(() => {
      logger.error(
        { timeout_ms: shutdownTimeoutMs },
        'gateway workers overran the shutdown timeout; killing them',
      );
      failed = true;
      for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill('SIGKILL');
    }, shutdownTimeoutMs + 2_000).unref();
    finish();
  };

  cluster.on('exit', (worker, code, signal) => {
    if (worker === gaugeReader) {
      gaugeReader = undefined;
      // A worker still serving takes over now; none left: the next one to listen does.
      const next = Object.values(cluster.workers ?? {}).find(
        (other) => other !== undefined && other !== worker && listening.has(other) && other.isConnected(),
      );
      if (next && !stopping) readGaugesOn(next);
    }
    if (code !== 0 || signal) failed ||= stopping;
    if (stopping) {
      finish();
      return;
    }
    if (!listening.has(worker)) {
      // It never served: a misconfiguration its replacements would repeat.
      logger.fatal({ pid: worker.process.pid, code, signal }, 'gateway worker failed to start');
      failed = true;
      stop('a worker failed to start');
      return;
    }
    logger.error(
      { pid: worker.process.pid, code, signal, restart_in_ms: restartDelayMs },
      'gateway worker died',
    );
    setTimeout(() => {
      if (!stopping) fork();
    }, restartDelayMs);
    restartDelayMs = Math.min(restartDelayMs * 2, MAX_RESTART_DELAY_MS);
  });

  for (const name of ['SIGTERM', 'SIGINT'] as const) {
    process.on(name, () => {
      if (!stopping) {
        stop(name);
        return;
      }
      logger.error({ signal: name }, 'second signal: killing the gateway workers');
      for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill('SIGKILL');
      logger.flush();
      process.exit(1);
    });
  }

  for (let i = 0; i < workers; i++) fork();
  logger.info({ workers }, 'gateway workers starting');
}

/** A worker's part in the cluster (see {@link joinCluster}). */
export interface ClusterMember {
  /** What `/metrics` serves: the whole cluster's figures. */
  metricsSource: Pick<Registry, 'contentType' | 'metrics'>;
  /** Whether this worker is the one that reads the queue gauges (the primary names it). */
  readsQueueGauges: () => boolean;
}

/**
 * In a worker: its `registry` answers the primary's aggregation (once the
 * worker listens: the primary asks only workers that serve), `onShutdown`
 * runs when the primary says so (or is gone), `onQueueGauges` when the primary
 * makes this worker the one that reads the queue gauges.
 */
export function joinCluster(
  registry: Registry,
  handlers: { onShutdown: () => void; onQueueGauges?: () => void },
): ClusterMember {
  let readsQueueGauges = false;
  let next = 0;
  const pending = new Map<number, (reply: MetricsReply) => void>();
  // One listener for every message from the primary.
  process.on('message', (message: unknown) => {
    switch (typeOf(message)) {
      case METRICS_PART: {
        const { id } = message as MetricsPart;
        registry.getMetricsAsJSON().then(
          (metrics) => process.send?.({ type: METRICS_PART, id, metrics } satisfies MetricsPart),
          (error: Error) =>
            process.send?.({ type: METRICS_PART, id, error: error.message } satisfies MetricsPart),
        );
        break;
      }
      case SHUTDOWN:
        handlers.onShutdown();
        break;
      case METRICS: {
        const reply = message as MetricsReply;
        pending.get(reply.id)?.(reply);
        break;
      }
      case QUEUE_GAUGES:
        readsQueueGauges = true;
        handlers.onQueueGauges?.();
        break;
    }
  });
  // A primary that died cannot supervise: stop rather than serve on unsupervised.
  process.on('disconnect', handlers.onShutdown);

  const metricsSource = {
    contentType: registry.contentType,
    metrics: () =>
      new Promise<string>((resolve, reject) => {
        const id = next++;
        const timer = setTimeout(() => {
          pending.delete(id);
          reject(new Error('the gateway primary did not answer for the metrics in time'));
        }, METRICS_TIMEOUT_MS);
        pending.set(id, (reply) => {
          clearTimeout(timer);
          pending.delete(id);
          if (reply.text === undefined) reject(new Error(reply.error ?? 'no metrics'));
          else resolve(reply.text);
        });
        process.send?.({ type: METRICS, id } satisfies MetricsRequest);
      }),
  };
  return { metricsSource, readsQueueGauges: () => readsQueueGauges };
}

export const isClusterWorker = (): boolean => cluster.isWorker;
