/**
 * The standard OpenTelemetry environment variables that jobfleet's tracing
 * reads (a subset of the OpenTelemetry SDK configuration, traces only). Tracing
 * is off unless an OTLP endpoint is set; then every key below is validated
 * like any other configuration key.
 */
import { type ConfigOf, type EnvVar, env } from './config.js';

/** The OTLP transports jobfleet can export over. gRPC would need another exporter (and @grpc/grpc-js). */
export const OTLP_PROTOCOLS = ['http/protobuf', 'http/json'] as const;
export type OtlpProtocol = (typeof OTLP_PROTOCOLS)[number];

export const SAMPLERS = [
  'always_on',
  'always_off',
  'traceidratio',
  'parentbased_always_on',
  'parentbased_always_off',
  'parentbased_traceidratio',
] as const;
export type SamplerName = (typeof SAMPLERS)[number];

export const PROPAGATORS = ['tracecontext', 'baggage', 'none'] as const;
export type PropagatorName = (typeof PROPAGATORS)[number];

type Env = Record<string, string | undefined>;

const isSet = (value: string | undefined): value is string => value !== undefined && value.trim() !== '';

/**
 * Whether the environment asks for tracing: an OTLP endpoint is set, and
 * neither `OTEL_SDK_DISABLED=true` nor `OTEL_TRACES_EXPORTER=none` turns it off.
 * Nothing else is read (or validated) when this is false.
 */
export function tracingRequested(environment: Env): boolean {
  const endpoint =
    isSet(environment.OTEL_EXPORTER_OTLP_ENDPOINT) || isSet(environment.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT);
  const disabled = environment.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true';
  const exporter = environment.OTEL_TRACES_EXPORTER?.trim().toLowerCase();
  return endpoint && !disabled && exporter !== 'none';
}

function optionalEndpoint(): EnvVar<string | undefined> {
  const url = env.url({ protocols: ['http:', 'https:'], secret: true });
  // A secret: the URL may carry credentials.
  return { secret: true, parse: (raw) => url.parse(raw), fallback: () => undefined };
}

function protocol(fallback: OtlpProtocol | undefined): EnvVar<OtlpProtocol | undefined> {
  return {
    parse(raw) {
      if (raw === 'grpc') throw new Error(`grpc is not supported; use ${OTLP_PROTOCOLS.join(' or ')}`);
      if (!(OTLP_PROTOCOLS as readonly string[]).includes(raw)) {
        throw new Error(`must be one of ${OTLP_PROTOCOLS.join(', ')}`);
      }
      return raw as OtlpProtocol;
    },
    fallback: () => fallback,
  };
}

/** `OTEL_RESOURCE_ATTRIBUTES`: `key=value,key=value`, with `,` and `=` percent-encoded inside keys and values. */
function resourceAttributes(): EnvVar<Readonly<Record<string, string>>> {
  return {
    parse(raw) {
      const attributes: Record<string, string> = {};
      for (const entry of raw.split(',')) {
        if (entry.trim() === '') continue;
        const parts = entry.split('=');
        const [key, value] = parts.map((part) => part.trim());
        if (parts.length !== 2 || !key || value === undefined) {
          throw new Error('must be key=value pairs separated by commas');
        }
        try {
          attributes[decodeURIComponent(key)] = decodeURIComponent(value);
        } catch {
          throw new Error(`has a bad percent-encoding in "${entry}"`);
        }
      }
      return Object.freeze(attributes);
    },
    fallback: () => Object.freeze({}),
  };
}

function samplerRatio(): EnvVar<number | undefined> {
  return {
    parse(raw) {
      const value = /^\d*\.?\d+$/.test(raw) ? Number(raw) : Number.NaN;
      if (!(value >= 0 && value <= 1)) throw new Error('must be a ratio from 0 to 1');
      return value;
    },
    fallback: () => undefined,
  };
}

function propagators(): EnvVar<readonly PropagatorName[]> {
  return {
    parse(raw) {
      const names = raw.split(',').map((name) => name.trim().toLowerCase());
      for (const name of names) {
        if (!(PROPAGATORS as readonly string[]).includes(name)) {
          throw new Error(`must be a comma-separated list of ${PROPAGATORS.join(', ')}`);
        }
      }
      return names.includes('none') ? [] : (names as PropagatorName[]);
    },
    fallback: () => ['tracecontext', 'baggage'],
  };
}

/** The `OTEL_*` keys jobfleet reads, for `loadConfig`. */
export const tracingConfig = {
  OTEL_EXPORTER_OTLP_ENDPOINT: optionalEndpoint(),
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: optionalEndpoint(),
  OTEL_EXPORTER_OTLP_PROTOCOL: protocol('http/protobuf'),
  OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: protocol(undefined),
  OTEL_SERVICE_NAME: env.optionalString(),
  OTEL_RESOURCE_ATTRIBUTES: resourceAttributes(),
  OTEL_TRACES_SAMPLER: env.oneOf(SAMPLERS, { default: 'parentbased_always_on' }),
  OTEL_TRACES_SAMPLER_ARG: samplerRatio(),
  OTEL_PROPAGATORS: propagators(),
  OTEL_BSP_SCHEDULE_DELAY: env.integer({ default: 5_000, min: 0, max: 3_600_000 }),
  OTEL_BSP_EXPORT_TIMEOUT: env.integer({ default: 30_000, min: 1, max: 3_600_000 }),
  OTEL_BSP_MAX_QUEUE_SIZE: env.integer({ default: 2_048, min: 1, max: 1_000_000 }),
  OTEL_BSP_MAX_EXPORT_BATCH_SIZE: env.integer({ default: 512, min: 1, max: 1_000_000 }),
};

export type TracingConfig = ConfigOf<typeof tracingConfig>;

/** Where spans go: the traces endpoint as given, or `<endpoint>/v1/traces`, as the OTLP specification says. */
export function tracesUrl(config: TracingConfig): string | undefined {
  if (config.otelExporterOtlpTracesEndpoint) return config.otelExporterOtlpTracesEndpoint;
  const base = config.otelExporterOtlpEndpoint;
  if (!base) return undefined;
  return `${base.endsWith('/') ? base : `${base}/`}v1/traces`;
}

/** The protocol for traces: the traces-specific key wins over the general one. */
export function tracesProtocol(config: TracingConfig): OtlpProtocol {
  return config.otelExporterOtlpTracesProtocol ?? config.otelExporterOtlpProtocol ?? 'http/protobuf';
}
