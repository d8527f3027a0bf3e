import type { QueueContract } from '@jobfleet/queue-contracts';
import { ConfigError, exitOnConfigError, loadConfig, redactUrl } from '@jobfleet/service-kit';
import {
  defineWorker,
  type HandlerMap,
  type RunningWorker,
  type StartWorkerOptions,
  type WorkerConfigOf,
  workerConfig,
} from '@jobfleet/worker-runtime';
import { endpointOf, type HttpWorkerConfig, httpWorkerConfig, queueUrlSpec, secretOf } from './config.js';
import { type HttpWorkerMetrics, httpWorkerMetrics } from './metrics.js';
import { createPushHandler } from './push.js';

/** The default `METRICS_PORT` (fleet.json's port of the app). */
export const METRICS_PORT = 9104;

type Env = Readonly<Record<string, string | undefined>>;

/** What the push handlers share. */
export interface HttpWorkerResources {
  readonly metrics: HttpWorkerMetrics;
}

/** One push handler for every job name of `contract`: the endpoint does the dispatching. */
function pushHandlers(
  contract: QueueContract,
  config: HttpWorkerConfig,
  metrics: HttpWorkerMetrics,
): HandlerMap<QueueContract> {
  const handler = createPushHandler({
    contract,
    url: endpointOf(config, contract.name),
    secret: secretOf(config),
    timeoutMs: config.httpWorkerTimeoutMs,
    maxResultBytes: config.httpWorkerMaxResultBytes,
    metrics,
  });
  return Object.fromEntries(Object.keys(contract.jobs).map((name) => [name, handler]));
}

/**
 * The http-worker serving `queues`: the runtime's worker (validation, metrics,
 * dead-lettering, cancellation, readiness, shutdown) with every job POSTed to
 * its queue's endpoint.
 */
export function createHttpWorker(queues: readonly QueueContract[]) {
  return defineWorker<readonly QueueContract[], typeof httpWorkerConfig, HttpWorkerResources>({
    service: 'http-worker',
    metricsPort: METRICS_PORT,
    // The per-queue endpoint keys exist only for the configured queues; the typed config knows the fixed ones.
    config: { ...httpWorkerConfig, ...queueUrlSpec(queues) } as typeof httpWorkerConfig,
    resources: ({ registry }) => ({ metrics: httpWorkerMetrics(registry) }),
    queues: queues.map((contract) => ({
      contract,
      handlers: ({ config, resources }) => pushHandlers(contract, config, resources.metrics),
    })),
    started: ({ config, logger }) => {
      const endpoints = Object.fromEntries(
        queues.map((contract) => [contract.name, redactUrl(endpointOf(config, contract.name))]),
      );
      logger.info(
        { endpoints, signed: secretOf(config) !== undefined, timeout_ms: config.httpWorkerTimeoutMs },
        'pushing jobs to HTTP endpoints',
      );
      if (!secretOf(config)) {
        logger.warn(
          'HTTP_WORKER_SECRET is unset: requests are not signed, so an endpoint cannot tell them from anyone else’s',
        );
      }
    },
  });
}

type Definition = ReturnType<typeof createHttpWorker>;
type Config = WorkerConfigOf<typeof httpWorkerConfig>;

/** Every key the http-worker reads, for the docs; `HTTP_WORKER_URL_<QUEUE>` and `WORKER_CONCURRENCY_<QUEUE>` besides. */
const configSpec = { ...workerConfig({ metricsPort: METRICS_PORT }), ...httpWorkerConfig };
const queuesSpec = { HTTP_WORKER_QUEUES: httpWorkerConfig.HTTP_WORKER_QUEUES };

/** The worker for the queues `env` names; a bad environment throws one `ConfigError` naming every bad key. */
function definitionFor(env: Env): Definition {
  let queues: readonly QueueContract[] | undefined;
  try {
    queues = loadConfig(queuesSpec, env).httpWorkerQueues;
  } catch (error) {
    // Name every bad key at once, as any worker does: the rest is checked as if no queue were named.
    if (error instanceof ConfigError) loadConfig(configSpec, env);
    throw error;
  }
  if (!queues) {
    const issues = ['HTTP_WORKER_QUEUES: is required (the catalog queues to work)'];
    try {
      loadConfig(configSpec, env);
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      issues.push(...error.issues);
    }
    throw new ConfigError(issues);
  }
  return createHttpWorker(queues);
}

/**
 * The http-worker process. Which queues it serves is configuration
 * (`HTTP_WORKER_QUEUES`), so the `defineWorker` definition is made when the
 * environment is read: by `start` and `main`.
 */
export const worker = {
  service: 'http-worker',
  /** The keys for the docs (`pnpm docs:config`). */
  configSpec,
  loadConfig: (env: Env = process.env): Config => definitionFor(env).loadConfig(env),
  /** Starts in this process (tests): `options.env` must name the queues. */
  start(
    options: StartWorkerOptions<Config, HttpWorkerResources, readonly QueueContract[]> = {},
  ): Promise<RunningWorker<Config, HttpWorkerResources>> {
    return definitionFor(options.env ?? {}).start(options);
  },
  /** The entrypoint: like every worker's `main`, with the queues read from `env` first. */
  async main(env: Env = process.env): Promise<RunningWorker<Config, HttpWorkerResources>> {
    let definition: Definition;
    try {
      definition = definitionFor(env);
    } catch (error) {
      return exitOnConfigError(error);
    }
    return definition.main(env);
  },
};
