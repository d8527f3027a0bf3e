import { DEAD_LETTER_JOB, deadLetters } from '@jobfleet/queue-contracts';
import { createLogger, startTracing } from '@jobfleet/service-kit';
import {
  ancestorsOf,
  type OtlpReceiver,
  type ReceivedSpan,
  startOtlpReceiver,
  useTestRedis,
} from '@jobfleet/test-utils';
import { trace } from '@opentelemetry/api';
import { Queue, QueueEvents } from 'bullmq';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { defineWorker, type HandlerMap, PermanentJobError, type RunningWorker } from '../src/index.js';
import { pings } from './fixture-contract.js';

const silent = createLogger({ service: 'test', level: 'silent' });
const handlers: HandlerMap<typeof pings> = {
  ping: async ({ text }) => ({ echoed: text }),
  pause: async () => null,
};

describe('a defined worker with tracing', () => {
  const redis = useTestRedis();
  let receiver: OtlpReceiver;
  const closing: Array<() => Promise<unknown>> = [];
  beforeAll(async () => {
    receiver = await startOtlpReceiver();
  });
  afterEach(async () => {
    for (const close of closing.splice(0).reverse()) await close();
    delete process.env.OTEL_EXPORTER_OTLP_ENDPOINT;
  });
  afterAll(() => receiver.close());

  const env = () => ({
    REDIS_URL: redis.url,
    JOBFLEET_PREFIX: redis.prefix,
    SHUTDOWN_TIMEOUT_MS: '5000',
    WORKER_CONCURRENCY: '2',
  });

  /** Tracing that exports to the test's receiver within milliseconds rather than the default 5 s. */
  async function tracingToReceiver() {
    const tracing = await startTracing({
      serviceName: 'worker-runtime-test',
      env: {
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
        OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
        OTEL_BSP_SCHEDULE_DELAY: '20',
      },
    });
    closing.push(() => tracing.shutdown());
    return tracing;
  }

  async function start(
    tracing?: Awaited<ReturnType<typeof startTracing>>,
    jobHandlers: HandlerMap<typeof pings> = handlers,
  ): Promise<RunningWorker> {
    const worker = await defineWorker({
      service: 'pings-worker',
      metricsPort: 0,
      queues: [{ contract: pings, handlers: jobHandlers }],
    }).start({ env: env(), logger: silent, ...(tracing ? { tracing } : {}) });
    closing.push(() => worker.close());
    return worker;
  }

  async function producer(telemetry = undefined as Queue['opts']['telemetry']) {
    const queue = new Queue(pings.name, { connection: redis.connection(), prefix: redis.prefix, telemetry });
    const events = new QueueEvents(pings.name, { connection: { url: redis.url }, prefix: redis.prefix });
    closing.push(async () => {
      await events.close();
      await queue.close();
    });
    await events.waitUntilReady();
    return { queue, events };
  }

  it('gives BullMQ no telemetry when OTEL_EXPORTER_OTLP_ENDPOINT is unset', async () => {
    const worker = await start();
    expect(worker.worker.opts.telemetry).toBeUndefined();
  });

  it("runs each job in a span that continues the producer's trace", async () => {
    const tracing = await tracingToReceiver();
    const worker = await start(tracing);
    expect(worker.worker.opts.telemetry).toBe(tracing.telemetry);
    const { queue, events } = await producer(tracing.telemetry);

    // The producer adds the job inside its own span, as the gateway does inside a request.
    const job = await trace
      .getTracer('test')
      .startActiveSpan('producer request', (span) =>
        queue.add('ping', { text: 'traced' }, pings.defaultJobOptions).finally(() => span.end()),
      );
    expect(await job.waitUntilFinished(events, 10_000)).toEqual({ echoed: 'traced' });

    const spans = await receiver.waitFor((all) =>
      all.some((span) => span.kind === 'consumer' && span.attributes['bullmq.job.id'] === job.id),
    );
    const processing = spans.find(
      (span) => span.kind === 'consumer' && span.attributes['bullmq.job.id'] === job.id,
    );
    const request = spans.find((span) => span.name === 'producer request');
    expect(processing?.name).toBe(`process ${pings.name}`);
    expect(processing?.traceId).toBe(request?.traceId);
    expect(processing && ancestorsOf(processing, spans).map((span) => span.name)).toEqual([
      `add ${pings.name}.ping`,
      'producer request',
    ]);
  });

  it("adds a failed job's dead-letter record inside the failed attempt's span, in the producer's trace", async () => {
    const tracing = await tracingToReceiver();
    await start(tracing, {
      ...handlers,
      ping: async () => {
        throw new PermanentJobError('refused for good');
      },
    });
    const { queue, events } = await producer(tracing.telemetry);
    const job = await trace
      .getTracer('test')
      .startActiveSpan('doomed producer request', (span) =>
        queue.add('ping', { text: 'doomed' }, pings.defaultJobOptions).finally(() => span.end()),
      );
    await expect(job.waitUntilFinished(events, 10_000)).rejects.toThrow('refused for good');

    const requestOf = (all: readonly ReceivedSpan[]) =>
      all.find((span) => span.name === 'doomed producer request');
    const recordAddOf = (all: readonly ReceivedSpan[]) =>
      all.find(
        (span) =>
          span.kind === 'producer' &&
          span.name.startsWith('add dead-letters.') &&
          span.traceId === requestOf(all)?.traceId,
      );
    const spans = await receiver.waitFor((all) => recordAddOf(all) !== undefined);
    const recordAdd = recordAddOf(spans);
    expect(recordAdd && ancestorsOf(recordAdd, spans).map((span) => span.name)).toEqual([
      `process ${pings.name}`,
      `add ${pings.name}.ping`,
      'doomed producer request',
    ]);

    // The consumer of dead-letters (the DLQ processor is a defined worker too) continues that trace.
    const consumer = await defineWorker({
      service: 'dlq-consumer',
      metricsPort: 0,
      queues: [
        {
          contract: deadLetters,
          handlers: { [DEAD_LETTER_JOB]: async () => null },
          deadLetterFailures: false,
          recordUsage: false,
        },
      ],
    }).start({ env: env(), logger: silent, tracing });
    closing.push(() => consumer.close());
    const recordProcessOf = (all: readonly ReceivedSpan[]) =>
      all.find((span) => span.kind === 'consumer' && span.parentSpanId === recordAdd?.spanId);
    const withConsumer = await receiver.waitFor((all) => recordProcessOf(all) !== undefined);
    expect(recordProcessOf(withConsumer)?.name).toBe(`process ${deadLetters.name}`);
  });

  it('starts tracing from the environment itself, and exports what is left on close', async () => {
    process.env.OTEL_EXPORTER_OTLP_ENDPOINT = receiver.url;
    const worker = await start();
    expect(worker.worker.opts.telemetry).toBeDefined();
    const { queue, events } = await producer();
    const job = await queue.add('ping', { text: 'untraced producer' }, pings.defaultJobOptions);
    await job.waitUntilFinished(events, 10_000);
    closing.pop();
    await worker.close();
    // No waiting for the export interval: closing flushed the span of the job.
    expect(
      receiver
        .spans()
        .some((span) => span.name === `process ${pings.name}` && span.attributes['bullmq.job.id'] === job.id),
    ).toBe(true);
  });
});
