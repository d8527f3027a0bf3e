import type { QueueContract } from '@jobfleet/queue-contracts';
import type { RedisClient } from '@jobfleet/service-kit';
import {
  type ConfigOf,
  camelCase,
  checkWhenReady,
  closeRedis,
  createLogger,
  createMetricsRegistry,
  createRedisConnection,
  describeRedis,
  type EnvVar,
  exitOnConfigError,
  handleShutdown,
  type Logger,
  loadConfig,
  loadConfigOrExit,
  observabilityPlugin,
  type QueueOwner,
  type ReadinessCheck,
  redisReadinessCheck,
  redisTopology,
  registerQueueInfo,
  startTracing,
  type Tracing,
} from '@jobfleet/service-kit';
import type { Worker, WorkerOptions } from 'bullmq';
import Fastify from 'fastify';
import type { Registry } from 'prom-client';
import {
  concurrencyKey,
  DEFAULT_CONCURRENCY,
  queueConcurrencyVar,
  type WorkerConfig,
  type WorkerConfigSpec,
  workerConfig,
} from './config.js';
import type { HandlerMap } from './handlers.js';
import { createWorkerRuntime, type WorkerRuntime } from './runtime.js';

type ConfigSpec = Record<string, EnvVar<unknown>>;

/** A worker's loaded configuration: the keys every worker reads plus the app's own. */
export type WorkerConfigOf<S extends ConfigSpec> = ConfigOf<WorkerConfigSpec & S>;

/** What a worker's resources and handler factories are built from; one of each per process. */
export interface WorkerContext<C> {
  readonly config: C;
  /** The process's Redis connection (worker flavour), shared by every queue it serves; closed last. */
  readonly connection: RedisClient;
  /** `JOBFLEET_PREFIX`. */
  readonly prefix: string;
  readonly logger: Logger;
  /** Where the app registers its own metrics, served with the runtime's on `/metrics`. */
  readonly registry: Registry;
}

/**
 * What an app's resources object may carry besides its own parts: readiness
 * checks added to `/health/ready`, and `close`, called after every queue's
 * BullMQ worker has stopped and before the Redis connection closes.
 */
export interface ResourceHooks {
  readonly readiness?: readonly ReadinessCheck[];
  /**
   * Called at the `SHUTDOWN_TIMEOUT_MS` deadline when jobs are still running,
   * just before their handlers' signals are aborted: stop starting side effects
   * that cannot be taken back, let those under way finish (the e-mail worker
   * stops handing messages to its SMTP pool; handlers then throw
   * `ShuttingDownError` and their jobs go back to wait).
   */
  drain?(): void;
  close?(): Promise<void>;
}

/** One queue a worker process serves. */
export interface QueueEntry<Q extends QueueContract, C, R> {
  readonly contract: Q;
  /** The handler map, or a factory that builds it from the context and the app's resources. */
  // NoInfer: the contract alone fixes `Q`, so handlers that do not fit it are an error, not a wider `Q`.
  readonly handlers:
    | NoInfer<HandlerMap<Q>>
    | ((context: WorkerContext<C> & { readonly resources: R }) => NoInfer<HandlerMap<Q>>);
  /**
   * Jobs of this queue at once, when the environment does not say
   * (`WORKER_CONCURRENCY` for the first queue, `WORKER_CONCURRENCY_<QUEUE>` for
   * the others); a function derives it from the configuration. Default 10.
   */
  readonly concurrency?: number | ((config: C) => number);
  /**
   * How the default concurrency reads in the docs (`.env.example`, README) when
   * `concurrency` is a function, e.g. `8 × SMTP_MAX_CONNECTIONS (40)`.
   */
  readonly concurrencyText?: string;
  /** BullMQ's rate limiter for this queue (kept in Redis, so it spans replicas); none when it returns undefined. */
  readonly limiter?: (config: C) => WorkerOptions['limiter'];
  /** Write a dead-letter record for each final failure (default true); off only for the consumer of `dead-letters`. */
  readonly deadLetterFailures?: boolean;
  /** Count attempts in the per-tenant usage ledger (default true). */
  readonly recordUsage?: boolean;
}

/** What `started` gets: the context, the resources, and where the process answers. */
export interface StartedContext<C, R> extends WorkerContext<C> {
  readonly resources: R;
  readonly metricsUrl: string;
  /** Each served queue's concurrency, by queue name. */
  readonly concurrency: Readonly<Record<string, number>>;
}

/** A worker process: see {@link defineWorker}. */
export interface WorkerDefinition<S extends ConfigSpec, R, T extends readonly QueueContract[]> {
  /** The service name in logs, traces and the Redis client name, e.g. `thumbnails-worker`. */
  readonly service: string;
  /** The default `METRICS_PORT` (the fleet manifest's port of the app). */
  readonly metricsPort: number;
  /** The app's own environment keys, beside the ones every worker reads. */
  readonly config?: S;
  /** Builds what the handlers share (clients, stores, metrics); before any BullMQ worker exists. */
  readonly resources?: (context: WorkerContext<WorkerConfigOf<S>>) => R | Promise<R>;
  /** The queues the process serves: each its own BullMQ worker, concurrency, metrics labels and dead-lettering. */
  readonly queues: { readonly [K in keyof T]: QueueEntry<T[K], WorkerConfigOf<S>, R> };
  /** Queues the process knows besides those it serves, exported in `jobfleet_queue_info` too. */
  readonly knownQueues?: readonly QueueOwner[];
  /**
   * How long handlers still running at the `SHUTDOWN_TIMEOUT_MS` deadline get,
   * once their signal is aborted, to settle before their jobs are put back to
   * wait anyway. Default 5 s; the e-mail worker waits as long as its SMTP
   * socket timeout, for the replies to messages already sent.
   */
  readonly abortGraceMs?: number | ((config: ConfigOf<WorkerConfigSpec & S>) => number);
  /** Runs once everything is up: the app's start log, periodic tasks. A throw closes the process again. */
  readonly started?: (context: StartedContext<WorkerConfigOf<S>, R>) => void | Promise<void>;
}

/** Any served queue's handler map, for a decorator of handlers. */
export type AnyHandlerMap<T extends readonly QueueContract[]> = {
  [K in keyof T]: HandlerMap<T[K]>;
}[number];

/** Options of an in-process {@link DefinedWorker.start}. */
export interface StartWorkerOptions<C, R, T extends readonly QueueContract[]> {
  /**
   * The environment the configuration is read from, over the test defaults
   * `HOST=127.0.0.1`, `METRICS_PORT=0` (a free port) and `LOG_LEVEL=silent`.
   * `process.env` is not read (tracing aside, which follows `OTEL_*` there).
   */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Values that replace loaded ones, e.g. a configuration built by hand. */
  readonly config?: Partial<C>;
  /** Defaults to a pino logger at `LOG_LEVEL`. */
  readonly logger?: Logger;
  /** Decorates each queue's handlers (the contract suite's `wrap`, crash simulations). */
  readonly wrap?: (handlers: AnyHandlerMap<T>, contract: T[number]) => AnyHandlerMap<T>;
  /** Replaces the definition's resources factory (a fixture sandbox, a fake transport). */
  readonly resources?: (context: WorkerContext<C>) => R | Promise<R>;
  /** Tracing to use; whoever started it shuts it down. Default: started from the `OTEL_*` environment. */
  readonly tracing?: Tracing;
}

/** A started worker process. */
export interface RunningWorker<C = unknown, R = unknown> {
  readonly config: C;
  readonly resources: R;
  readonly logger: Logger;
  readonly registry: Registry;
  /** Where `/metrics` and `/health/*` answer, e.g. `http://127.0.0.1:9104`. */
  readonly metricsUrl: string;
  /** The BullMQ worker of the first queue. */
  readonly worker: Worker;
  /** Every served queue's BullMQ worker, by queue name. */
  readonly workers: Readonly<Record<string, Worker>>;
  /** Each served queue's concurrency, by queue name. */
  readonly concurrency: Readonly<Record<string, number>>;
  /**
   * Graceful stop: every queue stops fetching, in-flight jobs finish (within
   * `SHUTDOWN_TIMEOUT_MS`), then resources, `/metrics` and Redis close.
   * Resolves `true` when every job finished in time.
   */
  close(): Promise<boolean>;
}

/** A worker process, defined: its entrypoint, an in-process start for tests, and its configuration spec. */
export interface DefinedWorker<S extends ConfigSpec, R, T extends readonly QueueContract[]> {
  readonly service: string;
  /** Every environment key the process reads (for docs tests and `loadConfig`). */
  readonly configSpec: Readonly<Record<string, EnvVar<unknown>>> & WorkerConfigSpec & S;
  /** The served contracts, in order. */
  readonly contracts: T;
  /** `loadConfig` of {@link configSpec}; throws one `ConfigError` naming every bad key. */
  loadConfig(env?: Readonly<Record<string, string | undefined>>): WorkerConfigOf<S>;
  /** Each served queue's concurrency under `config`, by queue name. */
  concurrency(config: WorkerConfigOf<S>): Record<string, number>;
  /** Starts in this process without signal handling; resolves once every queue's worker is connected. */
  start(options?: StartWorkerOptions<WorkerConfigOf<S>, R, T>): Promise<RunningWorker<WorkerConfigOf<S>, R>>;
  /**
   * The entrypoint: loads the configuration (or prints one message naming
   * every bad key and exits 1, as it does for a bad `OTEL_*` key found while
   * starting), starts, and stops gracefully on SIGTERM/SIGINT.
   */
  main(env?: Readonly<Record<string, string | undefined>>): Promise<RunningWorker<WorkerConfigOf<S>, R>>;
}

/** See {@link WorkerDefinition.abortGraceMs}. */
export const DEFAULT_ABORT_GRACE_MS = 5_000;

const TEST_ENV = { HOST: '127.0.0.1', METRICS_PORT: '0', LOG_LEVEL: 'silent' };

interface LaunchOptions<C, R> {
  config: C;
  logger?: Logger | undefined;
  wrap?: ((handlers: never, contract: QueueContract) => unknown) | undefined;
  resources?: ((context: WorkerContext<C>) => R | Promise<R>) | undefined;
  tracing?: Tracing | undefined;
  handleSignals: boolean;
}

type LooseEntry = QueueEntry<QueueContract, unknown, unknown>;
type LooseHandlers = (context: WorkerContext<unknown> & { resources: unknown }) => HandlerMap<QueueContract>;

/**
 * Declares a worker process: the queues it serves with their handlers, the
 * app's own configuration keys and resources, and what it does once started.
 * Everything around that is the runtime's: configuration loading and
 * validation, the Redis connection, one BullMQ worker per queue with
 * validation, metrics, dead-lettering and cancellation, `/metrics` and
 * `/health/*` on `METRICS_PORT`, `jobfleet_queue_info`, tracing, and graceful
 * shutdown.
 *
 * ```ts
 * export const worker = defineWorker({
 *   service: 'thumbnails-worker',
 *   metricsPort: 9104,
 *   queues: [{ contract: thumbnails, handlers }],
 * });
 * // main.ts
 * await worker.main();
 * ```
 */
export function defineWorker<
  const T extends readonly QueueContract[],
  S extends ConfigSpec = Record<never, never>,
  R = undefined,
>(definition: WorkerDefinition<S, R, T>): DefinedWorker<S, R, T> {
  type C = WorkerConfigOf<S>;
  const entries = definition.queues as unknown as readonly LooseEntry[];
  if (entries.length === 0) throw new Error(`${definition.service}: a worker serves at least one queue`);
  const names = entries.map((entry) => entry.contract.name);
  const twice = names.find((name, i) => names.indexOf(name) !== i);
  if (twice) throw new Error(`${definition.service}: queue "${twice}" is listed twice`);

  // Each concurrency key documents the default its queue gets when the key is unset.
  const concurrencyDefault = (entry: LooseEntry): string =>
    typeof entry.concurrency === 'function'
      ? (entry.concurrencyText ?? "derived from the app's configuration")
      : String(entry.concurrency ?? DEFAULT_CONCURRENCY);
  const shared = workerConfig({ metricsPort: definition.metricsPort });
  const perQueueKeys = Object.fromEntries(
    entries
      .slice(1)
      .map((entry) => [
        concurrencyKey(entry.contract.name),
        { ...queueConcurrencyVar(entry.contract.name), defaultText: concurrencyDefault(entry) },
      ]),
  );
  const configSpec = {
    ...shared,
    WORKER_CONCURRENCY: {
      ...shared.WORKER_CONCURRENCY,
      defaultText: concurrencyDefault(entries[0] as LooseEntry),
    },
    ...perQueueKeys,
    ...definition.config,
  } as unknown as DefinedWorker<S, R, T>['configSpec'];

  const concurrency = (config: C): Record<string, number> => {
    const loaded = config as unknown as Record<string, unknown>;
    return Object.fromEntries(
      entries.map((entry, i) => {
        const key = i === 0 ? 'WORKER_CONCURRENCY' : concurrencyKey(entry.contract.name);
        const given = loaded[camelCase(key)];
        if (typeof given === 'number') return [entry.contract.name, given];
        const fallback = entry.concurrency;
        return [
          entry.contract.name,
          typeof fallback === 'function' ? fallback(config) : (fallback ?? DEFAULT_CONCURRENCY),
        ];
      }),
    );
  };

  async function launch(options: LaunchOptions<C, R>): Promise<RunningWorker<C, R>> {
    const { config } = options;
    // The keys every worker reads; the app's own stay in `config`, for its resources and handlers.
    const base = config as unknown as WorkerConfig;
    const { service } = definition;
    const logger = options.logger ?? createLogger({ service, level: base.logLevel as 'info' });
    const registry = createMetricsRegistry();
    // Before any worker exists, so that they get BullMQ's telemetry; a bad OTEL_* key throws here, before anything opens.
    const tracing = options.tracing ?? (await startTracing({ serviceName: service, logger }));
    const shutdownTracing = options.tracing ? async () => {} : () => tracing.shutdown();
    const connection = createRedisConnection({
      redis: redisTopology(base),
      flavour: 'worker',
      name: service,
      logger,
    });
    const context: WorkerContext<C> = { config, connection, prefix: base.jobfleetPrefix, logger, registry };
    const sizes = concurrency(config);

    let resources: R | undefined;
    const runtimes: Array<{ name: string; runtime: WorkerRuntime }> = [];
    const server = Fastify({ loggerInstance: logger.child({ component: 'http' }) });
    const redisCheck = redisReadinessCheck(connection, logger, { prefix: base.jobfleetPrefix });
    let address: string;
    try {
      const build = options.resources ?? definition.resources;
      resources = (build ? await build(context) : undefined) as R;
      for (const entry of entries) {
        const { contract } = entry;
        const built =
          typeof entry.handlers === 'function'
            ? (entry.handlers as LooseHandlers)({ ...context, resources })
            : entry.handlers;
        const handlers = (
          options.wrap ? options.wrap(built as never, contract) : built
        ) as HandlerMap<QueueContract>;
        const limiter = entry.limiter?.(config);
        runtimes.push({
          name: contract.name,
          runtime: createWorkerRuntime({
            contract,
            handlers,
            connection,
            prefix: base.jobfleetPrefix,
            logger,
            registry,
            concurrency: sizes[contract.name] ?? DEFAULT_CONCURRENCY,
            usageRetentionDays: base.usageRetentionDays,
            ...(entry.deadLetterFailures === undefined
              ? {}
              : { deadLetterFailures: entry.deadLetterFailures }),
            ...(entry.recordUsage === undefined ? {} : { recordUsage: entry.recordUsage }),
            telemetry: tracing.telemetry,
            errorBackoff: {
              maxDelayMs: base.workerErrorBackoffMaxMs,
              logIntervalMs: base.workerErrorLogIntervalMs,
            },
            workerOptions: {
              lockDuration: base.workerLockDurationMs,
              stalledInterval: base.workerStalledIntervalMs,
              maxStalledCount: base.workerMaxStalledCount,
              ...(limiter ? { limiter } : {}),
            },
          }),
        });
      }
      registerQueueInfo(registry, [
        ...entries.map((entry) => entry.contract),
        ...(definition.knownQueues ?? []),
      ]);

      const workerCheck: ReadinessCheck = {
        name: 'worker',
        check: async () => {
          const stopped = runtimes
            .filter(({ runtime }) => !runtime.worker.isRunning())
            .map(({ name }) => name);
          if (stopped.length > 0) {
            return {
              ok: false,
              reason: `the worker of ${stopped.map((n) => `"${n}"`).join(', ')} is not running`,
            };
          }
          const faulty = runtimes.flatMap(({ name, runtime }) => {
            const fault = runtime.fault();
            if (!fault) return [];
            const what = fault.configuration ? 'Redis configuration error' : 'Redis refuses it';
            return [`the worker of "${name}" cannot fetch jobs (${what}: ${fault.message})`];
          });
          return faulty.length === 0 ? { ok: true } : { ok: false, reason: faulty.join('; ') };
        },
      };
      const hooks = resources as ResourceHooks | undefined;
      await server.register(observabilityPlugin, {
        registry,
        checks: [redisCheck, workerCheck, ...(hooks?.readiness ?? [])],
        metricsToken: base.metricsToken,
      });
      address = await server.listen({ port: base.metricsPort, host: base.host });
    } catch (error) {
      // Nothing else would close what was opened above.
      await Promise.all(runtimes.map(({ runtime }) => runtime.close(0)));
      await (resources as ResourceHooks | undefined)?.close?.();
      await server.close();
      connection.disconnect();
      await shutdownTracing();
      throw error;
    }
    const port = server.server.address();
    const metricsUrl = port && typeof port === 'object' ? `http://127.0.0.1:${port.port}` : address;

    const abortGraceMs =
      typeof definition.abortGraceMs === 'function'
        ? definition.abortGraceMs(config)
        : (definition.abortGraceMs ?? DEFAULT_ABORT_GRACE_MS);
    let closing: Promise<boolean> | undefined;
    const close = () => {
      closing ??= (async () => {
        const hooks = resources as ResourceHooks | undefined;
        // Set before the runtimes' own deadline timers, so that it fires first: the app stops starting
        // side effects before the handlers still running are aborted.
        const drainAtDeadline = hooks?.drain
          ? setTimeout(() => hooks.drain?.(), base.shutdownTimeoutMs)
          : undefined;
        const finished = await Promise.all(
          runtimes.map(({ runtime }) => runtime.close(base.shutdownTimeoutMs, abortGraceMs)),
        );
        clearTimeout(drainAtDeadline);
        await (resources as ResourceHooks | undefined)?.close?.();
        await server.close();
        await closeRedis(connection);
        // Last: the spans of the final jobs (and of closing) are exported before the process ends.
        await shutdownTracing();
        return finished.every(Boolean);
      })();
      return closing;
    };

    if (options.handleSignals) {
      handleShutdown({
        logger,
        // The deadline, the handlers' grace, putting their jobs back, then closing resources.
        hardTimeoutMs: base.shutdownTimeoutMs + 3 * abortGraceMs + 10_000,
        close: async () => void (await close()),
      });
    }

    checkWhenReady(connection, redisCheck);
    logger.info(
      {
        queues: names,
        concurrency: sizes,
        redis: describeRedis(redisTopology(base)),
        prefix: base.jobfleetPrefix,
        metrics: `${metricsUrl}/metrics`,
        tracing: tracing.enabled,
      },
      'worker started',
    );
    const workers = Object.fromEntries(runtimes.map(({ name, runtime }) => [name, runtime.worker]));
    const running: RunningWorker<C, R> = {
      config,
      resources: resources as R,
      logger,
      registry,
      metricsUrl,
      worker: (runtimes[0] as { runtime: WorkerRuntime }).runtime.worker,
      workers,
      concurrency: sizes,
      close,
    };
    try {
      await definition.started?.({ ...context, resources: resources as R, metricsUrl, concurrency: sizes });
    } catch (error) {
      await close();
      throw error;
    }
    return running;
  }

  const load = (env: Readonly<Record<string, string | undefined>> = process.env): C =>
    loadConfig(configSpec, env) as C;

  return {
    service: definition.service,
    configSpec,
    contracts: entries.map((entry) => entry.contract) as unknown as T,
    loadConfig: load,
    concurrency,
    async start(options = {}) {
      const loaded = load({ ...TEST_ENV, ...options.env });
      const config = options.config ? (Object.freeze({ ...loaded, ...options.config }) as C) : loaded;
      const running = await launch({
        config,
        logger: options.logger,
        wrap: options.wrap as LaunchOptions<C, R>['wrap'],
        resources: options.resources,
        tracing: options.tracing,
        handleSignals: false,
      });
      try {
        await Promise.all(Object.values(running.workers).map((worker) => worker.waitUntilReady()));
      } catch (error) {
        await running.close();
        throw error;
      }
      return running;
    },
    async main(env = process.env) {
      const config = loadConfigOrExit(configSpec, env) as C;
      return launch({ config, handleSignals: true }).catch(exitOnConfigError);
    },
  };
}
