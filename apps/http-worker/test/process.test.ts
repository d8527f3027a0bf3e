import { randomUUID } from 'node:crypto';
import { deadLetters, emails } from '@jobfleet/queue-contracts';
import { promtoolCheckMetrics, useServiceProcesses, useTestRedis } from '@jobfleet/test-utils';
import { Queue, QueueEvents } from 'bullmq';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { answer, startTestEndpoint } from './test-endpoint.js';

/**
 * The real entrypoint, `node dist/main.js`, configured with the two documented
 * keys only (no secret) against a plain HTTP endpoint, as an operator first
 * runs it.
 */

const redis = useTestRedis();
const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});
const processes = useServiceProcesses({
  packageDir: new URL('..', import.meta.url),
  name: 'the http-worker',
});

describe('node dist/main.js', () => {
  it('completes jobs, dead-letters a 400 and retries a 503, with readiness and metrics', async () => {
    // The job's `data.name` says how the endpoint answers; a 503 only on the first attempt.
    const target = await startTestEndpoint((request, res) => {
      const mode = (request.body.data as { name?: string }).name;
      if (mode === 'refuse') return answer(res, 400, 'unknown user');
      if (mode === 'busy' && request.body.attempt === 1)
        return answer(res, 503, 'busy', { 'retry-after': '1' });
      answer(res, 200, { messageId: `<${request.body.id}@example.com>`, transport: 'smtp' });
    });
    cleanup.push(() => target.close());
    const queue = new Queue(emails.name, { connection: { url: redis.url }, prefix: redis.prefix });
    const dlq = new Queue(deadLetters.name, { connection: { url: redis.url }, prefix: redis.prefix });
    const events = new QueueEvents(emails.name, { connection: { url: redis.url }, prefix: redis.prefix });
    cleanup.push(
      () => queue.close(),
      () => dlq.close(),
      () => events.close(),
    );
    await events.waitUntilReady();

    const worker = processes.spawn({
      REDIS_URL: redis.url,
      JOBFLEET_PREFIX: redis.prefix,
      HOST: '127.0.0.1',
      METRICS_PORT: '0',
      HTTP_WORKER_QUEUES: 'emails',
      HTTP_WORKER_URL: target.url,
    });
    const started = await worker.waitForLog((line) => line.msg === 'worker started');
    const metricsUrl = String(started.metrics).replace(/\/metrics$/, '');
    await vi.waitFor(async () => expect((await fetch(`${metricsUrl}/health/ready`)).status).toBe(200));
    expect(worker.logs.some((line) => /HTTP_WORKER_SECRET is unset/.test(String(line.msg)))).toBe(true);

    const add = (name: string) =>
      queue.add(
        'welcome',
        { userId: 1, to: 'ada@example.com', name },
        { ...emails.defaultJobOptions, jobId: randomUUID() },
      );
    const [done, refused, busy] = await Promise.all([add('Ada'), add('refuse'), add('busy')]);
    expect(await done.waitUntilFinished(events, 15_000)).toEqual({
      messageId: `<${done.id}@example.com>`,
      transport: 'smtp',
    });
    await expect(refused.waitUntilFinished(events, 15_000)).rejects.toThrow(
      'the endpoint answered 400: unknown user',
    );
    expect(await busy.waitUntilFinished(events, 15_000)).toEqual({
      messageId: `<${busy.id}@example.com>`,
      transport: 'smtp',
    });
    expect(target.requests.filter((r) => r.body.id === busy.id).map((r) => r.body.attempt)).toEqual([1, 2]);
    await vi.waitFor(async () => {
      const records = await dlq.getJobs(['waiting', 'active', 'completed', 'failed', 'delayed']);
      expect(records.map((r) => r.data.jobId)).toEqual([refused.id]);
    });

    const metrics = await (await fetch(`${metricsUrl}/metrics`)).text();
    expect(promtoolCheckMetrics(metrics)).toBe('');
    expect(metrics).toContain('jobfleet_http_worker_answers_total{queue="emails",answer="5xx"} 1');
    expect(metrics).toContain('jobfleet_http_worker_answers_total{queue="emails",answer="4xx"} 1');
    expect(metrics).toContain('jobfleet_http_worker_answers_total{queue="emails",answer="2xx"} 2');
    expect(metrics).toMatch(
      /jobfleet_jobs_processed_total\{queue="emails",job_name="welcome",outcome="dead_lettered"\} 1/,
    );

    expect(await worker.stop()).toEqual({ code: 0, signal: null });
  });

  it('names every bad key in one message and exits 1', async () => {
    const worker = processes.spawn({
      REDIS_URL: redis.url,
      HTTP_WORKER_QUEUES: 'emails,thumbnails',
      HTTP_WORKER_TIMEOUT_MS: 'soon',
    });
    expect(await worker.exited).toEqual({ code: 1, signal: null });
    expect(worker.stderr()).toMatch(
      /^invalid configuration:\n {2}HTTP_WORKER_QUEUES: names no queue of the catalog: "thumbnails".*\n {2}HTTP_WORKER_TIMEOUT_MS: /,
    );
  });
});
