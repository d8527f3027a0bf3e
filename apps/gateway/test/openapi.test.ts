import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { catalog } from '@jobfleet/queue-contracts';
import { useTestRedis } from '@jobfleet/test-utils';
import { compileErrors, validate } from '@readme/openapi-parser';
import type { FastifyInstance } from 'fastify';
import openapiTS, { astToString } from 'openapi-typescript';
import ts from 'typescript';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { bearer, EVERY_JOB, SECRETS, startGateway } from './helpers.js';

const redis = useTestRedis();
let app: FastifyInstance;
const dir = mkdtempSync(join(tmpdir(), 'gateway-openapi-'));

beforeEach(async () => {
  app = await startGateway(redis);
});
afterEach(async () => {
  await app.close();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Operation {
  tags?: string[];
  security?: unknown[];
  requestBody?: {
    required?: boolean;
    content: Record<string, { schema: { oneOf?: { properties: { name: unknown } }[] } }>;
  };
  responses: Record<
    string,
    { description: string; content?: Record<string, { schema: { title?: string } }> }
  >;
}
type Document = { openapi: string; paths: Record<string, Record<string, Operation>> };

async function openapiDocument(): Promise<Document> {
  const response = await app.inject({ method: 'GET', url: '/openapi.json' });
  expect(response.statusCode).toBe(200);
  return response.json<Document>();
}

describe('OpenAPI', () => {
  it('serves a valid OpenAPI 3.1 document at /openapi.json without an API key', async () => {
    const document = await openapiDocument();
    expect(document.openapi).toBe('3.1.0');
    const result = await validate(structuredClone(document) as never);
    expect(result.valid, result.valid ? '' : compileErrors(result)).toBe(true);
    expect(Object.keys(document.paths).sort()).toEqual(
      [
        '/health/live',
        '/health/ready',
        '/metrics',
        '/v1/dead-letters',
        '/v1/dead-letters/redrive',
        '/v1/dead-letters/{id}',
        '/v1/dead-letters/{id}/redrive',
        '/v1/queues',
        // Per catalog queue: enqueue, batch and schedules, each with that queue's job schemas.
        ...Object.keys(catalog).flatMap((queue) => [
          `/v1/queues/${queue}/jobs`,
          `/v1/queues/${queue}/jobs/batch`,
          `/v1/queues/${queue}/schedules/{scheduleId}`,
        ]),
        '/v1/queues/{queue}',
        '/v1/queues/{queue}/jobs/{id}',
        '/v1/queues/{queue}/jobs/{id}/events',
        '/v1/queues/{queue}/pause',
        '/v1/queues/{queue}/resume',
        '/v1/queues/{queue}/schedules',
        '/v1/queues/{queue}/schedules/{scheduleId}',
        '/v1/reports/{jobId}/file',
      ].sort(),
    );
    expect(document.paths['/health/ready']?.get?.security).toEqual([]);
    // A redrive without a body sends the record's own payload.
    expect(document.paths['/v1/dead-letters/{id}/redrive']?.post?.requestBody?.required).toBe(false);
    expect(document.paths['/v1/queues/emails/jobs']?.post?.requestBody?.required).toBe(true);
  });

  it('has one request body schema per job name, a oneOf by name', async () => {
    const document = await openapiDocument();
    const names = (path: string) =>
      document.paths[path]?.post?.requestBody?.content['application/json']?.schema.oneOf?.map(
        (branch) => branch.properties.name,
      );
    expect(names('/v1/queues/emails/jobs')).toEqual([
      { type: 'string', enum: ['welcome'] },
      { type: 'string', enum: ['password-reset'] },
      { type: 'string', enum: ['notification'] },
    ]);
    expect(names('/v1/queues/reports/jobs')).toEqual([{ type: 'string', enum: ['daily-report'] }]);
    const body =
      document.paths['/v1/queues/emails/jobs']?.post?.requestBody?.content['application/json']?.schema;
    expect(body).toMatchObject({ discriminator: { propertyName: 'name' } });
  });

  it('documents every error response of every API route as application/problem+json', async () => {
    const document = await openapiDocument();
    for (const [path, methods] of Object.entries(document.paths)) {
      if (!path.startsWith('/v1/')) continue;
      for (const [method, operation] of Object.entries(methods)) {
        const statuses = Object.keys(operation.responses);
        const where = `${method.toUpperCase()} ${path}`;
        // Every API route can answer these.
        for (const status of ['401', '429', '503']) expect(statuses, where).toContain(status);
        if (path.includes('{queue}')) expect(statuses, where).toContain('404');
        if (operation.requestBody) {
          for (const status of ['400', '413', '415']) expect(statuses, where).toContain(status);
        }
        for (const status of statuses) {
          expect(operation.responses[status]?.description, `${where} ${status}`).not.toBe('Default Response');
        }
        expect(
          statuses.some((s) => s.startsWith('2')),
          where,
        ).toBe(true);
        for (const status of statuses.filter((s) => Number(s) >= 400)) {
          const response = operation.responses[status];
          expect(response?.content?.['application/problem+json']?.schema.title, `${where} ${status}`).toBe(
            'Problem',
          );
        }
      }
    }
  });

  it('a client generated with openapi-typescript type-checks posting every job type, and those posts succeed', async () => {
    const document = await openapiDocument();
    const types = astToString(await openapiTS(document as never));
    // A .ts module, so it is type-checked itself (skipLibCheck skips only the standard library).
    writeFileSync(join(dir, 'api.ts'), types);
    const bodies = (queue: string) =>
      JSON.stringify(
        EVERY_JOB.filter((job) => job.queue === queue).map(({ name, data }) => ({ name, data })),
        null,
        2,
      );
    writeFileSync(
      join(dir, 'client.ts'),
      `import type { paths } from './api.js';

type JobOf<P extends keyof paths> = paths[P] extends { post: { requestBody?: { content: { 'application/json': infer B } } } } ? B : never;
type EmailsJob = JobOf<'/v1/queues/emails/jobs'>;
type ReportsJob = JobOf<'/v1/queues/reports/jobs'>;
type Accepted = paths['/v1/queues/emails/jobs']['post']['responses'][202]['content']['application/json'];

export const emails: EmailsJob[] = ${bodies('emails')};
export const reports: ReportsJob[] = ${bodies('reports')};
export const batch: paths['/v1/queues/emails/jobs/batch']['post']['requestBody']['content']['application/json'] = { jobs: emails };
export const withOptions: EmailsJob = { ...emails[0]!, options: { delay: 1000, backoff: { type: 'fixed', delay: 10 }, jobId: 'welcome-7' } } as EmailsJob;

// @ts-expect-error a welcome job needs data.to
export const missingField: EmailsJob = { name: 'welcome', data: { userId: 1 } };
// @ts-expect-error the reports queue has no welcome job
export const wrongQueue: ReportsJob = { name: 'welcome', data: { userId: 1, to: 'ada@example.com' } };
// @ts-expect-error backoff types are fixed or exponential
export const badBackoff: EmailsJob = { name: 'notification', data: { to: 'a@b.co', subject: 's', text: 't' }, options: { backoff: { type: 'linear', delay: 1 } } };

/** Posts with any HTTP function; the answer is typed by the document. */
export async function post(send: (path: string, body: string) => Promise<unknown>, job: EmailsJob): Promise<string> {
  const accepted = (await send('/v1/queues/emails/jobs', JSON.stringify(job))) as Accepted;
  const duplicate: boolean = accepted.duplicate;
  return duplicate ? '' : accepted.id;
}
`,
    );
    const program = ts.createProgram([join(dir, 'client.ts')], {
      strict: true,
      noEmit: true,
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      lib: ['lib.es2022.d.ts'],
      types: [],
      skipLibCheck: true,
    });
    const diagnostics = ts
      .getPreEmitDiagnostics(program)
      .map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
    expect(diagnostics).toEqual([]);

    // The compile held the event loop for seconds, which this gateway took as load to shed: start afresh.
    await app.close();
    app = await startGateway(redis);
    for (const { queue, name, data } of EVERY_JOB) {
      const response = await app.inject({
        method: 'POST',
        url: `/v1/queues/${queue}/jobs`,
        headers: bearer(SECRETS.ops),
        payload: { name, data },
      });
      expect(response.statusCode, `${queue}/${name}`).toBe(202);
    }
  });

  it('serves Swagger UI at /docs without an API key, under its own content security policy', async () => {
    const page = await app.inject({ method: 'GET', url: '/docs/' });
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    expect(page.body).toContain('swagger-ui');
    expect(page.headers['content-security-policy']).toContain("script-src 'self'");
    expect(page.headers['referrer-policy']).toBe('no-referrer');
    expect(page.headers['cross-origin-resource-policy']).toBe('same-origin');
    const redirect = await app.inject({ method: 'GET', url: '/docs' });
    expect([200, 302]).toContain(redirect.statusCode);
    const bundle = await app.inject({ method: 'GET', url: '/docs/static/swagger-ui-bundle.js' });
    expect(bundle.statusCode).toBe(200);
    const initializer = await app.inject({ method: 'GET', url: '/docs/static/swagger-initializer.js' });
    expect(initializer.body).toContain('./json');
    const json = await app.inject({ method: 'GET', url: '/docs/json' });
    expect(json.json()).toMatchObject({ openapi: '3.1.0' });
  });
});
