/**
 * One trace across processes: the built gateway and e-mail worker run with
 * `OTEL_EXPORTER_OTLP_ENDPOINT` pointing at an in-test OTLP receiver (a
 * collector that keeps spans in memory); a welcome e-mail is posted with a
 * caller's `traceparent`; once the job has completed and both processes have
 * stopped (which exports what they still hold), the worker's processing span
 * must be in the caller's trace and a descendant of the gateway's request
 * span — the request, the wait and the work in one trace. Run once per OTLP
 * protocol.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { emails } from '@jobfleet/queue-contracts';
import {
  ancestorsOf,
  deleteKeys,
  type OtlpReceiver,
  type ReceivedSpan,
  startOtlpReceiver,
} from '@jobfleet/test-utils';
// Declares the `redisUrl` that the global setup provides.
import type {} from '@jobfleet/test-utils/global-setup';
import { Job, Queue, QueueEvents } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { type Fleet, startFleet } from './support/fleet.js';
import { REPO_ROOT } from './support/paths.js';
import { type FleetContext, isBuilt, mainOf, SERVICES, type ServiceSpec } from './support/services.js';

const PROTOCOLS = ['http/json', 'http/protobuf'] as const;

/** The two apps of the trace, with tracing on; everything else as in the other ops tests. */
function tracedApps(endpoint: string, protocol: string): ServiceSpec[] {
  const otel = { OTEL_EXPORTER_OTLP_ENDPOINT: endpoint, OTEL_EXPORTER_OTLP_PROTOCOL: protocol };
  // This test runs no SMTP server: the worker writes its mail to an outbox instead.
  const ownEnv: Record<string, ServiceSpec['env']> = {
    'email-worker': (context) => ({ EMAIL_OUTBOX_DIR: join(context.dataDir, 'outbox') }),
  };
  return ['gateway', 'email-worker'].map((app) => {
    const spec = SERVICES.find((service) => service.app === app);
    if (!spec) throw new Error(`SERVICES has no ${app}`);
    const env = ownEnv[app] ?? spec.env;
    return { ...spec, env: (context: FleetContext) => ({ ...env?.(context), ...otel }) };
  });
}

const unbuilt = tracedApps('', '').filter((spec) => !isBuilt(spec));
const skipNote = unbuilt.map((spec) => `${relative(REPO_ROOT, mainOf(spec))} does not exist`).join(', ');

/** A W3C `traceparent` of a caller that is sampled. */
function callerContext() {
  const traceId = randomBytes(16).toString('hex');
  const spanId = randomBytes(8).toString('hex');
  return { traceId, spanId, traceparent: `00-${traceId}-${spanId}-01` };
}

const describeSpan = (span: ReceivedSpan) => `${span.serviceName}: ${span.kind} "${span.name}"`;

describe.skipIf(unbuilt.length > 0)(
  `a trace from POST /v1/queues/emails/jobs to the e-mail worker${skipNote ? ` (skipped: ${skipNote})` : ''}`,
  () => {
    const redisUrl = inject('redisUrl');
    let receiver: OtlpReceiver;
    let dataDir = '';
    let fleet: Fleet | undefined;
    const prefixes: string[] = [];

    beforeAll(async () => {
      receiver = await startOtlpReceiver();
      dataDir = mkdtempSync(join(tmpdir(), 'jobfleet-tracing-'));
    });
    afterEach(async () => {
      await fleet?.stop();
      fleet = undefined;
    });
    afterAll(async () => {
      await receiver?.close();
      const admin = new Redis(redisUrl, { maxRetriesPerRequest: null });
      for (const prefix of prefixes) await deleteKeys(admin, prefix);
      await admin.quit();
      if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    });

    for (const protocol of PROTOCOLS) {
      it(`links the gateway's request span to the worker's processing span (${protocol})`, async () => {
        const prefix = `trace-${randomUUID().slice(0, 8)}`;
        prefixes.push(prefix);
        fleet = await startFleet(tracedApps(receiver.url, protocol), {
          redisUrl,
          prefix,
          dataDir,
          smtpUrl: '',
        });
        const gateway = fleet.find('gateway');
        if (!gateway) throw new Error('the gateway did not start');

        const connection = new Redis(redisUrl, { maxRetriesPerRequest: null });
        const queue = new Queue(emails.name, { connection, prefix });
        const events = new QueueEvents(emails.name, { connection: { url: redisUrl }, prefix });
        const caller = callerContext();
        let jobId = '';
        try {
          await events.waitUntilReady();
          const response = await fetch(`${gateway.url}/v1/queues/emails/jobs`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', traceparent: caller.traceparent },
            body: JSON.stringify({
              name: 'welcome',
              data: { userId: 7, to: 'grace@example.com', name: 'Grace' },
            }),
          });
          const body = (await response.json()) as { id?: string };
          expect(response.status, JSON.stringify(body)).toBe(202);
          jobId = body.id ?? '';
          const job = await Job.fromId(queue, jobId);
          if (!job) throw new Error(`job ${jobId} is not in the queue`);
          // Race-free: it subscribes first, then looks at the job's state.
          await job.waitUntilFinished(events, 20_000);
        } finally {
          await events.close();
          await queue.close();
          await connection.quit();
        }

        // Stopping both processes (SIGTERM) exports every span they still hold.
        await fleet.stop();
        fleet = undefined;

        const spans = receiver.spans().filter((span) => span.traceId === caller.traceId);
        const shown =
          spans.length > 0
            ? spans.map(describeSpan).join('\n  ')
            : `(none; ${receiver.spans().length} spans received in all: ${[...new Set(receiver.spans().map(describeSpan))].join(', ')})`;
        const processing = spans.find(
          (span) =>
            span.serviceName === 'email-worker' &&
            span.kind === 'consumer' &&
            span.attributes['bullmq.job.id'] === jobId,
        );
        const request = spans.find(
          (span) =>
            span.serviceName === 'gateway' &&
            span.name === 'request' &&
            span.attributes['http.request.method'] === 'POST' &&
            span.attributes['url.path'] === '/v1/queues/emails/jobs',
        );
        expect(
          processing,
          `no processing span of job ${jobId} in the caller's trace:\n  ${shown}`,
        ).toBeDefined();
        expect(request, `no gateway request span in the caller's trace:\n  ${shown}`).toBeDefined();
        if (!processing || !request) return;

        // The request continues the caller's trace, and the processing descends from the request.
        expect(request.parentSpanId).toBe(caller.spanId);
        const ancestors = ancestorsOf(processing, spans);
        expect(ancestors.map(describeSpan)).toContain(describeSpan(request));
        // Walking up from the work ends at the request: every span in between was received.
        expect(ancestors.at(-1)?.spanId).toBe(request.spanId);
        const enqueue = ancestors.find((span) => span.kind === 'producer');
        expect(enqueue).toMatchObject({ serviceName: 'gateway', name: `add ${emails.name}.welcome` });
        // The wait: the work starts after the job was added.
        expect(processing.startTimeUnixNano).toBeGreaterThanOrEqual(enqueue?.startTimeUnixNano ?? 0n);
        expect(spans.every((span) => span.protocol === protocol)).toBe(true);
      });
    }
  },
);
