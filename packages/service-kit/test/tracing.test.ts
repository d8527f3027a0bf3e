import { randomUUID } from 'node:crypto';
import { ancestorsOf, type OtlpReceiver, startOtlpReceiver } from '@jobfleet/test-utils';
import { trace } from '@opentelemetry/api';
import Fastify from 'fastify';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { activeTelemetry, ConfigError, startTracing, type Tracing } from '../src/index.js';

describe('startTracing', () => {
  let receiver: OtlpReceiver;
  const started: Tracing[] = [];
  beforeAll(async () => {
    receiver = await startOtlpReceiver();
  });
  afterEach(async () => {
    await Promise.all(started.splice(0).map((tracing) => tracing.shutdown()));
  });
  afterAll(() => receiver.close());

  const start = async (env: Record<string, string>, instrumentFastify = false) => {
    const tracing = await startTracing({ serviceName: 'test-service', env, instrumentFastify });
    started.push(tracing);
    return tracing;
  };

  it('is a no-op without an OTLP endpoint: no telemetry for BullMQ, no global tracer', async () => {
    const tracing = await start({ OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' });
    expect(tracing.enabled).toBe(false);
    expect(tracing.telemetry).toBeUndefined();
    expect(activeTelemetry()).toBeUndefined();
    expect(trace.getTracer('t').startSpan('x').isRecording()).toBe(false);
  });

  it('stays off when the SDK or the traces exporter is disabled', async () => {
    const endpoint = { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url };
    expect((await start({ ...endpoint, OTEL_SDK_DISABLED: 'true' })).enabled).toBe(false);
    expect((await start({ ...endpoint, OTEL_TRACES_EXPORTER: 'none' })).enabled).toBe(false);
  });

  it('names every bad OTEL_* key in one error', async () => {
    const error = await startTracing({
      serviceName: 'x',
      env: {
        OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318',
        OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc',
        OTEL_TRACES_SAMPLER: 'sometimes',
        OTEL_TRACES_SAMPLER_ARG: '2',
        OTEL_RESOURCE_ATTRIBUTES: 'novalue',
      },
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    const { issues } = error as ConfigError;
    expect(issues.map((issue) => issue.split(':')[0]).sort()).toEqual([
      'OTEL_EXPORTER_OTLP_ENDPOINT',
      'OTEL_EXPORTER_OTLP_PROTOCOL',
      'OTEL_RESOURCE_ATTRIBUTES',
      'OTEL_TRACES_SAMPLER',
      'OTEL_TRACES_SAMPLER_ARG',
    ]);
    expect(issues.join('\n')).toContain('grpc is not supported');
  });

  for (const protocol of ['http/json', 'http/protobuf'] as const) {
    it(`exports over ${protocol}: Fastify request spans continue the caller's trace`, async () => {
      const tracing = await start(
        { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_EXPORTER_OTLP_PROTOCOL: protocol },
        true,
      );
      expect(tracing.enabled).toBe(true);
      expect(tracing.telemetry).toBeDefined();
      expect(activeTelemetry()).toBe(tracing.telemetry);

      const app = Fastify();
      app.get('/things/:id', async () => {
        // A span made in the handler is a child of the request's span.
        trace.getTracer('test').startSpan('inside the handler').end();
        return { ok: true };
      });
      app.get('/metrics', async () => 'metrics');
      const traceId = randomUUID().replaceAll('-', '');
      const callerSpanId = '00f067aa0ba902b7';
      const response = await app.inject({
        url: '/things/1',
        headers: { traceparent: `00-${traceId}-${callerSpanId}-01` },
      });
      expect(response.statusCode).toBe(200);
      await app.inject('/metrics');
      await app.close();
      await tracing.shutdown();

      const spans = receiver.spans().filter((span) => span.traceId === traceId);
      const request = spans.find((span) => span.name === 'request');
      const inner = spans.find((span) => span.name === 'inside the handler');
      expect(request).toMatchObject({
        kind: 'server',
        parentSpanId: callerSpanId,
        serviceName: 'test-service',
        protocol,
        attributes: expect.objectContaining({ 'http.route': '/things/:id' }),
      });
      expect(inner && request && ancestorsOf(inner, spans)).toContain(request);
      expect(receiver.spans().some((span) => span.attributes['http.route'] === '/metrics')).toBe(false);
      expect(receiver.requests()[protocol]).toBeGreaterThan(0);
      // Stopped: the global API is back to no-ops.
      expect(activeTelemetry()).toBeUndefined();
      expect(trace.getTracer('t').startSpan('x').isRecording()).toBe(false);
    });
  }

  it('takes the service name and resource attributes from the environment', async () => {
    const tracing = await start({
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${receiver.url}/v1/traces`,
      OTEL_SERVICE_NAME: 'renamed',
      OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment.name=staging,team=mail%2Cops',
    });
    trace.getTracer('test').startSpan('named').end();
    await tracing.flush();
    const span = receiver.spans().find((s) => s.name === 'named');
    expect(span?.serviceName).toBe('renamed');
    expect(span?.resource).toMatchObject({ 'deployment.environment.name': 'staging', team: 'mail,ops' });
  });

  it('shares one installation between holders until the last shuts down', async () => {
    const env = { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url };
    const first = await start(env);
    const second = await start(env);
    expect(second.telemetry).toBe(first.telemetry);
    await first.shutdown();
    expect(trace.getTracer('t').startSpan('x').isRecording()).toBe(true);
    await second.shutdown();
    expect(trace.getTracer('t').startSpan('x').isRecording()).toBe(false);
    // And it can start again afterwards.
    expect((await start(env)).enabled).toBe(true);
  });
});
