import { randomUUID } from 'node:crypto';
import type { Context, TextMapPropagator } from '@opentelemetry/api';
import type { Sampler, TracerProvider } from '@opentelemetry/sdk-trace';
import type { Telemetry } from 'bullmq';
import type { Logger } from 'pino';
import { loadConfig } from './config.js';
import {
  type TracingConfig,
  tracesProtocol,
  tracesUrl,
  tracingConfig,
  tracingRequested,
} from './tracing-config.js';

export interface TracingOptions {
  /** `service.name` of the spans, unless `OTEL_SERVICE_NAME` (or `OTEL_RESOURCE_ATTRIBUTES`) names another. */
  serviceName: string;
  /**
   * Trace every Fastify instance created from now on with `@fastify/otel`: a
   * span per request (continuing a `traceparent` the caller sent) with child
   * spans for its hooks and handler. `/metrics` and `/health/*` are left out
   * unless `OTEL_FASTIFY_IGNORE_PATHS` says otherwise.
   */
  instrumentFastify?: boolean;
  /** Where the SDK's own warnings and errors (an unreachable collector, …) are logged. */
  logger?: Logger;
  /** Defaults to `process.env`. The exporters read headers, timeout, compression and certificates from `process.env`. */
  env?: Record<string, string | undefined>;
}

/** The tracing of one process, as `startTracing` returns it. */
export interface Tracing {
  /** Whether spans are recorded and exported. */
  readonly enabled: boolean;
  /**
   * BullMQ's `telemetry` option for `Queue`, `Worker` and `FlowProducer`;
   * `undefined` when tracing is off, so that BullMQ skips tracing entirely.
   */
  readonly telemetry: Telemetry | undefined;
  /** Exports every span that has ended so far. */
  flush(): Promise<void>;
  /** Exports what is left and stops tracing (when no other holder still uses it). Safe to call twice. */
  shutdown(): Promise<void>;
}

const OFF: Tracing = Object.freeze({
  enabled: false,
  telemetry: undefined,
  flush: async () => {},
  shutdown: async () => {},
});

/** What one installation of the SDK holds; shared by every `startTracing` handle until the last shuts down. */
interface Installation {
  readonly provider: TracerProvider;
  readonly telemetry: Telemetry;
  holders: number;
  instrumentFastify(): Promise<void>;
  stop(): Promise<void>;
}

// OpenTelemetry's API is process-global by design (one tracer provider, one
// context manager, one propagator), so the installation is too.
let installing: Promise<Installation> | undefined;
let installed: Installation | undefined;

/**
 * Starts OpenTelemetry tracing from the standard `OTEL_*` environment (see
 * `tracingConfig`), or returns a no-op when `OTEL_EXPORTER_OTLP_ENDPOINT` (or
 * `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is unset: then nothing is loaded and
 * `telemetry` is `undefined`, so the hot paths pay nothing.
 *
 * When on: a tracer provider with a batching OTLP exporter (`http/protobuf`
 * or `http/json`), W3C trace-context propagation and an AsyncLocalStorage
 * context manager are registered globally. Call it before anything that
 * traces is built (Fastify instances, BullMQ queues and workers), and
 * `shutdown()` on close to export what is left. Calls made while tracing is
 * already on share that installation (the first caller's service name wins).
 *
 * Throws a `ConfigError` naming every bad `OTEL_*` key.
 */
export async function startTracing(options: TracingOptions): Promise<Tracing> {
  const environment = options.env ?? process.env;
  if (!tracingRequested(environment)) return OFF;
  const config = loadConfig(tracingConfig, environment);

  installing ??= install(config, options).then(
    (installation) => {
      installed = installation;
      return installation;
    },
    (error: unknown) => {
      installing = undefined;
      throw error;
    },
  );
  const installation = await installing;
  installation.holders += 1;
  if (options.instrumentFastify) await installation.instrumentFastify();

  let released = false;
  return {
    enabled: true,
    telemetry: installation.telemetry,
    flush: () => installation.provider.forceFlush(),
    async shutdown() {
      if (released) return;
      released = true;
      installation.holders -= 1;
      if (installation.holders > 0) return installation.provider.forceFlush();
      if (installed === installation) installed = undefined;
      installing = undefined;
      await installation.stop();
    },
  };
}

/**
 * BullMQ's `telemetry` option when this process has started tracing, else
 * `undefined`. For code that builds queues without being handed the `Tracing`
 * (the tracer provider is process-global anyway).
 */
export function activeTelemetry(): Telemetry | undefined {
  return installed?.telemetry;
}

const isHealthOrMetrics = (url: string): boolean => {
  const path = url.split('?', 1)[0] ?? url;
  return path === '/metrics' || path.startsWith('/health/');
};

async function install(config: TracingConfig, options: TracingOptions): Promise<Installation> {
  // Loaded only when tracing is on: a process without it never pays for the SDK.
  const [api, { AsyncLocalStorageContextManager }, core, resources, sdk, { BullMQOtel }] = await Promise.all([
    import('@opentelemetry/api'),
    import('@opentelemetry/context-async-hooks'),
    import('@opentelemetry/core'),
    import('@opentelemetry/resources'),
    import('@opentelemetry/sdk-trace'),
    import('bullmq-otel'),
  ]);
  const url = tracesUrl(config);
  const { OTLPTraceExporter } =
    tracesProtocol(config) === 'http/json'
      ? await import('@opentelemetry/exporter-trace-otlp-http')
      : await import('@opentelemetry/exporter-trace-otlp-proto');

  const { logger } = options;
  if (logger) {
    const log = logger.child({ component: 'opentelemetry' });
    api.diag.setLogger(
      {
        error: (message, ...args) => log.error({ args }, message),
        warn: (message, ...args) => log.warn({ args }, message),
        info: () => {},
        debug: () => {},
        verbose: () => {},
      },
      api.DiagLogLevel.WARN,
    );
  }

  const ratio = config.otelTracesSamplerArg ?? 1;
  const samplers: Record<TracingConfig['otelTracesSampler'], () => Sampler> = {
    always_on: () => new sdk.AlwaysOnSampler(),
    always_off: () => new sdk.AlwaysOffSampler(),
    traceidratio: () => new sdk.TraceIdRatioBasedSampler(ratio),
    parentbased_always_on: () => new sdk.ParentBasedSampler({ root: new sdk.AlwaysOnSampler() }),
    parentbased_always_off: () => new sdk.ParentBasedSampler({ root: new sdk.AlwaysOffSampler() }),
    parentbased_traceidratio: () =>
      new sdk.ParentBasedSampler({ root: new sdk.TraceIdRatioBasedSampler(ratio) }),
  };

  const attributes = config.otelResourceAttributes;
  const resource = resources.defaultResource().merge(
    resources.resourceFromAttributes({
      'service.instance.id': randomUUID(),
      ...attributes,
      'service.name': config.otelServiceName ?? attributes['service.name'] ?? options.serviceName,
    }),
  );

  const provider = new sdk.TracerProvider({
    resource,
    sampler: samplers[config.otelTracesSampler](),
    spanProcessors: [
      new sdk.BatchSpanProcessor({
        exporter: new OTLPTraceExporter(url ? { url } : {}),
        scheduledDelayMillis: config.otelBspScheduleDelay,
        exportTimeoutMillis: config.otelBspExportTimeout,
        maxQueueSize: config.otelBspMaxQueueSize,
        maxExportBatchSize: Math.min(config.otelBspMaxExportBatchSize, config.otelBspMaxQueueSize),
      }),
    ],
  });

  const propagators: TextMapPropagator<Context>[] = config.otelPropagators.map((name) =>
    name === 'baggage' ? new core.W3CBaggagePropagator() : new core.W3CTraceContextPropagator(),
  );
  if (!api.trace.setGlobalTracerProvider(provider)) {
    await provider.shutdown();
    throw new Error('another OpenTelemetry tracer provider is already registered in this process');
  }
  api.context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  api.propagation.setGlobalPropagator(new core.CompositePropagator({ propagators }));

  const instrumentations: { disable(): void }[] = [];
  let fastify: Promise<void> | undefined;
  return {
    provider,
    telemetry: new BullMQOtel({ tracerName: 'bullmq' }),
    holders: 0,
    instrumentFastify() {
      fastify ??= import('@fastify/otel').then(({ FastifyOtelInstrumentation }) => {
        const instrumentation = new FastifyOtelInstrumentation({
          // Hooks into every Fastify instance created from now on (a diagnostics channel), so the
          // app itself needs no plugin.
          registerOnInitialization: true,
          // OTEL_FASTIFY_IGNORE_PATHS (a glob) replaces the default when set.
          ...(process.env.OTEL_FASTIFY_IGNORE_PATHS
            ? {}
            : { ignorePaths: ({ url: path }: { url: string }) => isHealthOrMetrics(path) }),
        });
        instrumentation.setTracerProvider(provider);
        instrumentations.push(instrumentation);
      });
      return fastify;
    },
    async stop() {
      for (const instrumentation of instrumentations) instrumentation.disable();
      // Unregister first, so a new installation can start while this one drains.
      api.trace.disable();
      api.propagation.disable();
      api.context.disable();
      await provider.shutdown();
      if (logger) api.diag.disable();
    },
  };
}
