import type { QueueContract } from '@jobfleet/queue-contracts';
import {
  checkWhenReady,
  createLogger,
  createMetricsRegistry,
  createRedisConnection,
  handleShutdown,
  type Logger,
  observabilityPlugin,
  type ReadinessCheck,
  redactUrl,
  redisReadinessCheck,
  startTracing,
  type Tracing,
} from '@jobfleet/service-kit';
import type { WorkerOptions } from 'bullmq';
import Fastify from 'fastify';
import type { Redis } from 'ioredis';
import type { Registry } from 'prom-client';
import type { WorkerConfig } from './config.js';
import type { HandlerMap } from './handlers.js';
import { createWorkerRuntime, type WorkerRuntime } from './runtime.js';

/** What `runWorker` has made that an app's handlers may share. */
export interface WorkerResources {
  /** The worker's Redis connection (worker flavour); closed by `runWorker`. */
  connection: Redis;
  prefix: string;
  logger: Logger;
  /** Where an app registers its own metrics, served on the same `/metrics`. */
  registry: Registry;
}

export interface RunWorkerOptions<Q extends QueueContract> {
  contract: Q;
  /** The handler map, or a factory that builds it from the worker's resources. */
  handlers: HandlerMap<Q> | ((resources: WorkerResources) => HandlerMap<Q>);
  config: WorkerConfig;
  /** The service name in logs; defaults to `<queue>-worker`. */
  service?: string;
  logger?: Logger;
  registry?: Registry;
  /** Extra readiness conditions (an SMTP server reachable, a directory writable, …). */
  readiness?: ReadinessCheck[];
  /** BullMQ options the app sets itself, e.g. a rate `limiter`. */
  workerOptions?: Pick<WorkerOptions, 'limiter'>;
  /** See `createWorkerRuntime`: off only for the consumer of `dead-letters`. */
  deadLetterFailures?: boolean;
  /** See `createWorkerRuntime`. */
  recordUsage?: boolean;
  /** Install SIGTERM/SIGINT handling; entrypoints want this, tests do not. */
  handleSignals?: boolean;
  /** Runs after the worker has stopped, before connections close (an app's own resources). */
  onClose?: () => Promise<void>;
  /**
   * Tracing to use; whoever started it shuts it down. When omitted, `runWorker`
   * starts tracing from the `OTEL_*` environment (a no-op unless
   * `OTEL_EXPORTER_OTLP_ENDPOINT` is set) and shuts it down on close.
   */
  tracing?: Tracing;
}

export interface RunningWorker extends WorkerRuntime {
  readonly logger: Logger;
  readonly registry: Registry;
  /** Where `/metrics` and `/health/*` answer. */
  readonly metricsUrl: string;
  /** Graceful stop: in-flight jobs finish (within the configured timeout), then everything closes. */
  close(): Promise<boolean>;
}

/**
 * Everything a worker process needs around a handler map: Redis, the BullMQ
 * worker, dead-lettering, metrics and health on `METRICS_PORT`, and graceful
 * shutdown on SIGTERM/SIGINT.
 */
export async function runWorker<Q extends QueueContract>(
  options: RunWorkerOptions<Q>,
): Promise<RunningWorker> {
  const { contract, handlers, config } = options;
  const service = options.service ?? `${contract.name}-worker`;
  const logger = options.logger ?? createLogger({ service, level: config.logLevel as 'info' });
  const registry = options.registry ?? createMetricsRegistry();
  // Before the worker exists, so that it gets BullMQ's telemetry; a bad OTEL_* key throws here, before anything opens.
  const tracing = options.tracing ?? (await startTracing({ serviceName: service, logger }));
  const shutdownTracing = options.tracing ? async () => {} : () => tracing.shutdown();
  const connection = createRedisConnection({
    url: config.redisUrl,
    flavour: 'worker',
    name: service,
    logger,
  });

  const resources: WorkerResources = { connection, prefix: config.jobfleetPrefix, logger, registry };
  const runtime = createWorkerRuntime({
    contract,
    handlers: typeof handlers === 'function' ? handlers(resources) : handlers,
    connection,
    prefix: config.jobfleetPrefix,
    logger,
    registry,
    concurrency: config.workerConcurrency,
    usageRetentionDays: config.usageRetentionDays,
    ...(options.deadLetterFailures === undefined ? {} : { deadLetterFailures: options.deadLetterFailures }),
    ...(options.recordUsage === undefined ? {} : { recordUsage: options.recordUsage }),
    telemetry: tracing.telemetry,
    workerOptions: {
      lockDuration: config.workerLockDurationMs,
      stalledInterval: config.workerStalledIntervalMs,
      maxStalledCount: config.workerMaxStalledCount,
      ...options.workerOptions,
    },
  });

  const redisCheck = redisReadinessCheck(connection, logger);
  const workerCheck: ReadinessCheck = {
    name: 'worker',
    check: async () =>
      runtime.worker.isRunning() ? { ok: true } : { ok: false, reason: 'the worker is not running' },
  };
  const server = Fastify({ loggerInstance: logger.child({ component: 'http' }) });
  await server.register(observabilityPlugin, {
    registry,
    checks: [redisCheck, workerCheck, ...(options.readiness ?? [])],
    metricsToken: config.metricsToken,
  });
  let address: string;
  try {
    address = await server.listen({ port: config.metricsPort, host: config.host });
  } catch (error) {
    // Nothing else would close what was opened above.
    await runtime.close(0);
    await server.close();
    connection.disconnect();
    await shutdownTracing();
    throw error;
  }
  const port = server.server.address();
  const metricsUrl = port && typeof port === 'object' ? `http://127.0.0.1:${port.port}` : address;

  let closing: Promise<boolean> | undefined;
  const close = () => {
    closing ??= (async () => {
      const finished = await runtime.close(config.shutdownTimeoutMs);
      await options.onClose?.();
      await server.close();
      await connection.quit().catch(() => connection.disconnect());
      // Last: the spans of the final jobs (and of closing) are exported before the process ends.
      await shutdownTracing();
      return finished;
    })();
    return closing;
  };

  if (options.handleSignals ?? true) {
    handleShutdown({
      logger,
      hardTimeoutMs: config.shutdownTimeoutMs + 10_000,
      close: async () => void (await close()),
    });
  }

  checkWhenReady(connection, redisCheck);
  logger.info(
    {
      queue: contract.name,
      redis: redactUrl(config.redisUrl),
      prefix: config.jobfleetPrefix,
      concurrency: config.workerConcurrency,
      metrics: `${metricsUrl}/metrics`,
      tracing: tracing.enabled,
    },
    'worker started',
  );
  return { ...runtime, logger, registry, metricsUrl, close };
}
