import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createReportStore } from '@jobfleet/report-store';
import { useTestRedis } from '@jobfleet/test-utils';
import type { FastifyInstance } from 'fastify';
import { request } from 'undici';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { bearer, inspectQueue, SECRETS, startGateway, testConfig } from './helpers.js';

const redis = useTestRedis();
let app: FastifyInstance | undefined;
let dir = '';

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'gateway-reports-'));
});

afterEach(async () => {
  await app?.close();
  app = undefined;
  rmSync(dir, { recursive: true, force: true });
});

const CSV = 'queue,job_name,completed\nemails,welcome,42\n';

async function gateway() {
  app = await startGateway(redis, { config: testConfig(redis, { REPORTS_DIR: dir }) });
  return app;
}

/** A `daily-report` job of tenant globex, posted by globex's key. */
async function reportJob(): Promise<string> {
  const posted = await app?.inject({
    method: 'POST',
    url: '/v1/queues/reports/jobs',
    headers: bearer(SECRETS.reportsOnly),
    payload: { name: 'daily-report', data: { tenantId: 'globex', date: '2026-11-27', format: 'csv' } },
  });
  expect(posted?.statusCode).toBe(202);
  return posted?.json<{ id: string }>().id ?? '';
}

/** Writes the job's report as the report worker does, through the store, in `REPORTS_DIR`. */
const writeReport = (jobId: string, tenant = 'globex') =>
  createReportStore({ reportsDir: dir }).put(
    { tenant, date: '2026-11-27', jobId, format: 'csv' },
    Buffer.from(CSV),
  );

const download = (jobId: string, secret: string, headers: Record<string, string> = {}) =>
  app?.inject({
    method: 'GET',
    url: `/v1/reports/${encodeURIComponent(jobId)}/file`,
    headers: { ...bearer(secret), ...headers },
  });

describe('GET /v1/reports/:jobId/file', () => {
  it('is a 404 naming the job state until the report exists, then streams it with its headers and ETag', async () => {
    await gateway();
    const jobId = await reportJob();
    const early = await download(jobId, SECRETS.reportsOnly);
    expect(early?.statusCode).toBe(404);
    expect(early?.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(early?.json()).toMatchObject({ code: 'JOBFLEET_REPORT_NOT_FOUND' });
    expect(early?.json<{ detail: string }>().detail).toContain('waiting');

    await writeReport(jobId);
    const sha256 = createHash('sha256').update(CSV).digest('hex');
    const file = await download(jobId, SECRETS.reportsOnly);
    expect(file?.statusCode).toBe(200);
    expect(file?.body).toBe(CSV);
    expect(file?.headers['content-type']).toBe('text/csv; charset=utf-8');
    expect(file?.headers['content-disposition']).toBe('attachment; filename="report-globex-2026-11-27.csv"');
    expect(file?.headers['content-length']).toBe(String(Buffer.byteLength(CSV)));
    expect(file?.headers.etag).toBe(`"${sha256}"`);

    for (const tag of [`"${sha256}"`, `W/"${sha256}"`, `"other", "${sha256}"`, '*']) {
      const cached = await download(jobId, SECRETS.reportsOnly, { 'if-none-match': tag });
      expect(cached?.statusCode, tag).toBe(304);
      expect(cached?.body).toBe('');
      expect(cached?.headers.etag).toBe(`"${sha256}"`);
    }
    const stale = await download(jobId, SECRETS.reportsOnly, { 'if-none-match': '"0000"' });
    expect(stale?.statusCode).toBe(200);
    expect(stale?.body).toBe(CSV);
  });

  it("answers another tenant's key 404 without the job state, and finds the report for a key without a tenant", async () => {
    await gateway();
    const jobId = await reportJob();
    // acme-ops holds *:read; acme may not see globex's report, nor learn the job exists.
    const other = await download(jobId, SECRETS.acmeOps);
    expect(other?.statusCode).toBe(404);
    expect(other?.json<{ detail: string }>().detail).not.toContain('waiting');
    await writeReport(jobId);
    expect((await download(jobId, SECRETS.acmeOps))?.statusCode).toBe(404);
    // A platform key: the report's tenant is the job's data.tenantId.
    const platform = await download(jobId, SECRETS.ops);
    expect(platform?.statusCode).toBe(200);
    expect(platform?.body).toBe(CSV);
  });

  it('serves a tenant its report after the job is gone; a platform key then cannot tell whose it is', async () => {
    await gateway();
    const jobId = await reportJob();
    await writeReport(jobId);
    await (await inspectQueue(redis, 'reports').getJob(jobId))?.remove();
    expect((await download(jobId, SECRETS.reportsOnly))?.statusCode).toBe(200);
    const platform = await download(jobId, SECRETS.ops);
    expect(platform?.statusCode).toBe(404);
    expect((await download('no-such-job', SECRETS.reportsOnly))?.statusCode).toBe(404);
  });

  it('needs reports:read', async () => {
    await gateway();
    const jobId = await reportJob();
    await writeReport(jobId);
    const refused = await download(jobId, SECRETS.signup);
    expect(refused?.statusCode).toBe(403);
    expect(refused?.json()).toMatchObject({ code: 'JOBFLEET_FORBIDDEN' });
    expect((await app?.inject({ method: 'GET', url: `/v1/reports/${jobId}/file` }))?.statusCode).toBe(401);
  });

  it('answers a matching If-None-Match over the wire with a bare 304: no body, length or JSON type', async () => {
    await gateway();
    const jobId = await reportJob();
    await writeReport(jobId);
    const base = await app?.listen({ host: '127.0.0.1', port: 0 });
    const url = `${base}/v1/reports/${encodeURIComponent(jobId)}/file`;
    const headers = bearer(SECRETS.reportsOnly);

    const file = await request(url, { headers });
    expect(file.statusCode).toBe(200);
    const etag = String(file.headers.etag);
    expect(await file.body.text()).toBe(CSV);

    // A 304 has no body (RFC 9110), so neither the length nor the type of one: strict clients check.
    const cached = await request(url, { headers: { ...headers, 'if-none-match': etag } });
    expect(cached.statusCode).toBe(304);
    expect(cached.headers.etag).toBe(etag);
    expect(cached.headers['cache-control']).toBe('private, no-cache');
    expect(cached.headers['content-length']).toBeUndefined();
    expect(cached.headers['content-type']).toBeUndefined();
    expect(cached.headers['transfer-encoding']).toBeUndefined();
    expect(await cached.body.text()).toBe('');
  });
});
