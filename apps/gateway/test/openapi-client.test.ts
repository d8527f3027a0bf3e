import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { DeadLetterStore } from '@jobfleet/dead-letter-store';
import { catalog, toDeadLetter } from '@jobfleet/queue-contracts';
import { createReportStore } from '@jobfleet/report-store';
import { useTestRedis } from '@jobfleet/test-utils';
import type { FastifyInstance } from 'fastify';
import openapiTS, { astToString } from 'openapi-typescript';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { inspectQueue, SECRETS, startGateway, testConfig, welcome } from './helpers.js';

const require = createRequire(import.meta.url);
const redis = useTestRedis();
const dir = mkdtempSync(join(tmpdir(), 'gateway-openapi-client-'));
const reportsDir = join(dir, 'reports');
let app: FastifyInstance;
let baseUrl = '';

mkdirSync(reportsDir);

// The test Redis gives each test its own key prefix, so each test has its own gateway.
beforeEach(async () => {
  app = await startGateway(redis, { config: testConfig(redis, { REPORTS_DIR: reportsDir }) });
  baseUrl = await app.listen({ port: 0, host: '127.0.0.1' });
});
afterEach(async () => {
  await app?.close();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Parameter {
  name: string;
  in: string;
  schema: { type?: string; enum?: string[]; minimum?: number; maximum?: number };
}
type Document = {
  paths: Record<
    string,
    Record<string, { parameters?: Parameter[]; responses: Record<string, { content?: object }> }>
  >;
};

const parameter = (document: Document, path: string, name: string) =>
  document.paths[path]?.get?.parameters?.find((p) => p.name === name);

/**
 * A program that uses every route family through `openapi-fetch`, typed only by
 * what `openapi-typescript` made of the document. The `@ts-expect-error` lines
 * fail the compile if the document loses the types they rely on.
 */
const PROGRAM = `import createClient from 'openapi-fetch';
import type { paths } from './api.js';

const welcome = ${JSON.stringify(welcome)};

export async function run(baseUrl: string, apiKey: string, deadLetterId: string, reportJobId: string) {
  const api = createClient<paths>({ baseUrl, headers: { authorization: \`Bearer \${apiKey}\` } });
  const fail = (what: string, response: Response, error?: unknown): never => {
    throw new Error(\`\${what}: \${response.status} \${JSON.stringify(error)}\`);
  };

  const live = await api.GET('/health/live');
  const ready = await api.GET('/health/ready');
  const liveStatus: 'ok' | undefined = live.data?.status;
  const readyChecks: string[] = ready.data?.checks.map((check) => check.name) ?? [];

  const posted = await api.POST('/v1/queues/emails/jobs', {
    body: { name: 'welcome', data: welcome.data },
    params: { header: { 'idempotency-key': 'openapi-client-1' } },
  });
  if (!posted.data) return fail('enqueue', posted.response, posted.error);
  const id: string = posted.data.id;

  const batch = await api.POST('/v1/queues/emails/jobs/batch', {
    body: {
      jobs: [
        { name: 'notification', data: { to: 'ada@example.com', subject: 'Hi', text: 'Hello' } },
        { name: 'welcome', data: welcome.data, options: { delay: 60_000, attempts: 2 } },
      ],
    },
  });
  if (!batch.data) return fail('batch', batch.response, batch.error);

  const status = await api.GET('/v1/queues/{queue}/jobs/{id}', {
    params: { path: { queue: 'emails', id }, query: { waitMs: 20 } },
  });
  if (!status.data) return fail('status', status.response, status.error);

  const cancelled = await api.DELETE('/v1/queues/{queue}/jobs/{id}', {
    params: { path: { queue: 'emails', id: batch.data.jobs[0]?.id ?? '' } },
  });

  const scheduled = await api.PUT('/v1/queues/emails/schedules/{scheduleId}', {
    params: { path: { scheduleId: 'nightly-welcome' } },
    body: { name: 'welcome', data: welcome.data, everyMs: 86_400_000 },
  });
  const schedules = await api.GET('/v1/queues/{queue}/schedules', { params: { path: { queue: 'emails' } } });
  const schedule = await api.GET('/v1/queues/{queue}/schedules/{scheduleId}', {
    params: { path: { queue: 'emails', scheduleId: 'nightly-welcome' } },
  });
  const unscheduled = await api.DELETE('/v1/queues/{queue}/schedules/{scheduleId}', {
    params: { path: { queue: 'emails', scheduleId: 'nightly-welcome' } },
  });

  const queues = await api.GET('/v1/queues');
  const queue = await api.GET('/v1/queues/{queue}', { params: { path: { queue: 'reports' } } });
  const paused = await api.POST('/v1/queues/{queue}/pause', { params: { path: { queue: 'reports' } } });
  const resumed = await api.POST('/v1/queues/{queue}/resume', { params: { path: { queue: 'reports' } } });

  const deadLetters = await api.GET('/v1/dead-letters', {
    params: { query: { queue: 'emails', limit: 10, since: '2000-01-01T00:00:00.000Z' } },
  });
  const deadLetter = await api.GET('/v1/dead-letters/{id}', { params: { path: { id: deadLetterId } } });
  const redriven = await api.POST('/v1/dead-letters/{id}/redrive', { params: { path: { id: deadLetterId } } });

  const report = await api.GET('/v1/reports/{jobId}/file', {
    params: { path: { jobId: reportJobId } },
    parseAs: 'text',
  });

  // A name outside the catalog gets through only by a cast, and is then answered 404 at run time.
  const unknown = await api.GET('/v1/queues/{queue}', { params: { path: { queue: 'nope' as 'emails' } } });
  // Query values are numbers to the client and checked as such by the gateway.
  const badLimit = await api.GET('/v1/dead-letters', { params: { query: { limit: 0 } } });

  return {
    live: liveStatus,
    readyChecks,
    enqueued: { status: posted.response.status, duplicate: posted.data.duplicate },
    batch: { status: batch.response.status, count: batch.data.jobs.length },
    status: { id: status.data.id, state: status.data.state, name: status.data.name },
    cancelled: cancelled.response.status,
    schedules: {
      put: scheduled.response.status,
      listed: schedules.data?.schedules.map((s) => s.id),
      everyMs: schedule.data?.everyMs,
      deleted: unscheduled.response.status,
    },
    queues: queues.data?.queues.map((q) => q.name),
    queue: { name: queue.data?.name, waiting: queue.data?.counts.waiting },
    paused: [paused.data?.paused, resumed.data?.paused],
    deadLetters: deadLetters.data?.items.map((item) => item.id),
    deadLetter: deadLetter.data?.jobName,
    redrivenTo: redriven.data?.queue,
    report: report.data,
    unknown: { status: unknown.response.status, code: unknown.error?.code },
    badLimit: { status: badLimit.response.status, path: badLimit.error?.errors?.[0]?.path },
  };
}

export async function typeErrors(api: ReturnType<typeof createClient<paths>>) {
  // @ts-expect-error {queue} is an enum of the catalog's queues
  await api.GET('/v1/queues/{queue}', { params: { path: { queue: 'nope' } } });
  // @ts-expect-error limit is an integer, not text
  await api.GET('/v1/dead-letters', { params: { query: { limit: '10' } } });
  // @ts-expect-error waitMs is an integer, not text
  await api.GET('/v1/queues/{queue}/jobs/{id}', { params: { path: { queue: 'emails', id: '1' }, query: { waitMs: '5' } } });
  // @ts-expect-error the emails queue has no daily-report job
  await api.POST('/v1/queues/emails/jobs', { body: { name: 'daily-report', data: {} } });
  const live = await api.GET('/health/live');
  // @ts-expect-error /health/live answers { status: 'ok' } only
  const wrong: 'unavailable' | undefined = live.data?.status;
  return wrong;
}
`;

describe('a client generated from /openapi.json', () => {
  it('documents integer query parameters, the catalog queues as an enum, and the health probes', async () => {
    const document = (await (await fetch(`${baseUrl}/openapi.json`)).json()) as Document;
    expect(parameter(document, '/v1/dead-letters', 'limit')?.schema).toMatchObject({
      type: 'integer',
      minimum: 1,
      maximum: 1_000,
    });
    expect(parameter(document, '/v1/queues/{queue}/jobs/{id}', 'waitMs')?.schema).toMatchObject({
      type: 'integer',
      minimum: 0,
      maximum: 30_000,
    });
    for (const path of Object.keys(document.paths).filter((p) => p.includes('{queue}'))) {
      for (const operation of Object.values(document.paths[path] ?? {})) {
        const queue = operation.parameters?.find((p) => p.name === 'queue' && p.in === 'path');
        expect(queue?.schema.enum, path).toEqual(Object.keys(catalog));
      }
    }
    for (const [path, statuses] of [
      ['/health/live', ['200']],
      ['/health/ready', ['200', '503']],
    ] as const) {
      const responses = document.paths[path]?.get?.responses ?? {};
      for (const status of statuses) expect(responses[status]?.content, `${path} ${status}`).toBeDefined();
    }
  });

  it('type-checks a program using every route family with tsc, and that program works against the gateway', async () => {
    // Read over HTTP, as a generator would.
    const document = await (await fetch(`${baseUrl}/openapi.json`)).text();
    writeFileSync(join(dir, 'api.ts'), astToString(await openapiTS(document)));
    writeFileSync(join(dir, 'client.ts'), PROGRAM);
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          strict: true,
          noEmit: true,
          target: 'ES2022',
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          lib: ['ES2022', 'DOM'],
          types: [],
          skipLibCheck: true,
        },
        files: ['client.ts'],
      }),
    );
    // The program's only import, as the generated client's user would have it installed.
    mkdirSync(join(dir, 'node_modules'));
    symlinkSync(
      dirname(dirname(require.resolve('openapi-fetch'))),
      join(dir, 'node_modules', 'openapi-fetch'),
    );
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ type: 'module' }));

    // A child process, so the compile does not hold up the gateway's event loop.
    const tsc = require.resolve('typescript/bin/tsc');
    const compiled = await promisify(execFile)(process.execPath, [tsc, '--noEmit', '-p', dir]).then(
      () => '',
      (error: { stdout?: string }) => error.stdout ?? String(error),
    );
    expect(compiled).toBe('');

    // Fixtures the program reads: a dead letter of an emails job, and a rendered report.
    const deadLetters = new DeadLetterStore({ connection: redis.connection(), prefix: redis.prefix });
    const emails = inspectQueue(redis, 'emails');
    const reports = inspectQueue(redis, 'reports');
    try {
      const failed = await emails.add('welcome', welcome.data);
      const record = toDeadLetter({
        ...failed,
        queueName: 'emails',
        failedReason: 'SMTP 550',
        attemptsMade: 3,
        finishedOn: Date.now(),
      });
      const deadLetterId = await deadLetters.capture(record);
      await deadLetters.index(deadLetterId, record);
      const reportJob = await reports.add('daily-report', {
        tenantId: 'globex',
        date: '2026-11-27',
        format: 'csv',
      });
      const reportJobId = String(reportJob.id);
      await createReportStore({ reportsDir }).put(
        { tenant: 'globex', date: '2026-11-27', jobId: reportJobId, format: 'csv' },
        Buffer.from('queue,completed\nemails,1\n'),
      );

      const program = (await import(join(dir, 'client.ts'))) as {
        run: (...args: string[]) => Promise<Record<string, unknown>>;
      };
      const result = await program.run(baseUrl, SECRETS.admin, deadLetterId, reportJobId);
      expect(result).toEqual({
        live: 'ok',
        readyChecks: ['redis'],
        enqueued: { status: 202, duplicate: false },
        batch: { status: 202, count: 2 },
        status: { id: expect.any(String), state: 'waiting', name: 'welcome' },
        cancelled: 204,
        schedules: { put: 201, listed: ['nightly-welcome'], everyMs: 86_400_000, deleted: 204 },
        queues: Object.keys(catalog),
        queue: { name: 'reports', waiting: 1 },
        paused: [true, false],
        deadLetters: [deadLetterId],
        deadLetter: 'welcome',
        redrivenTo: 'emails',
        report: 'queue,completed\nemails,1\n',
        unknown: { status: 404, code: 'JOBFLEET_UNKNOWN_QUEUE' },
        badLimit: { status: 400, path: '/limit' },
      });
    } finally {
      await Promise.all([deadLetters.close(), emails.close(), reports.close()]);
    }
  }, 120_000);
});
