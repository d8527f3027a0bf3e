import cluster, { type Worker } from 'node:cluster';
import { availableParallelism } from 'node:os';
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
 * over all workers (prom-client's cluster aggregation; queue gauges, which
 * every worker reads alike, are taken once).
 */

const SHUTDOWN = 'jobfleet:shutdown';
const METRICS = 'jobfleet:metrics';
const METRICS_TIMEOUT_MS = 5_000;
const MAX_RESTART_DELAY_MS = 30_000;

/** The number of processes `GATEWAY_WORKERS` asks for: `auto` is one per available core. */
export function workerCount(setting: number | 'auto'): number {
  return setting === 'auto' ? availableParallelism() : setting;
}

interface MetricsRequest {
  type: typeof METRICS;
  id: number;
}
interface MetricsReply {
  type: typeof METRICS;
  id: number;
  text?: string;
  error?: string;
}

const isMessage = (message: unknown, type: string): message is { type: string } =>
  typeof message === 'object' && message !== null && (message as { type?: unknown }).type === type;

export interface PrimaryOptions {
  workers: number;
  logger: Logger;
  /** Each worker's own hard shutdown timeout; the primary waits a little longer before it kills. */
  shutdownTimeoutMs: number;
}

/** Runs the primary: forks the workers and supervises them until a signal ends the gateway. */
export function runPrimary({ workers, logger, shutdownTimeoutMs }: PrimaryOptions): void {
  const aggregator = new AggregatorRegistry();
  const listening = new WeakSet<Worker>();
  let stopping = false;
  let restartDelayMs = 1_000;
  let failed = false;

  const fork = () => {
    const worker = cluster.fork();
    worker.on('listening', () => {
      listening.add(worker);
      restartDelayMs = 1_000;
    });
    worker.on('message', (message: unknown) => {
      if (!isMessage(message, METRICS)) return;
      const { id } = message as MetricsRequest;
      aggregator.clusterMetrics().then(
        (text) => worker.send({ type: METRICS, id, text } satisfies MetricsReply),
        (error: Error) => worker.send({ type: METRICS, id, error: error.message } satisfies MetricsReply),
      );
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

/**
 * In a worker: its `registry` answers the primary's aggregation, `onShutdown`
 * runs when the primary says so (or is gone), and the returned source gives
 * `/metrics` the whole cluster's figures.
 */
export function joinCluster(
  registry: Registry,
  onShutdown: () => void,
): Pick<Registry, 'contentType' | 'metrics'> {
  // Constructing one is what makes prom-client answer the primary's requests in this process.
  new AggregatorRegistry();
  AggregatorRegistry.setRegistries([registry]);
  process.on('message', (message: unknown) => {
    if (isMessage(message, SHUTDOWN)) onShutdown();
  });
  // A primary that died cannot supervise: stop rather than serve on unsupervised.
  process.on('disconnect', onShutdown);

  let next = 0;
  const pending = new Map<number, (reply: MetricsReply) => void>();
  process.on('message', (message: unknown) => {
    if (!isMessage(message, METRICS)) return;
    const reply = message as MetricsReply;
    pending.get(reply.id)?.(reply);
  });
  return {
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
}

export const isClusterWorker = (): boolean => cluster.isWorker;
