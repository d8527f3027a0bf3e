import { resolve } from 'node:path';
import { ConfigError, loadConfig } from '@jobfleet/service-kit';
import { describe, expect, it } from 'vitest';
import { createReportStore, ifNoneMatchHits, reportHeaders, reportStoreConfig } from '../src/index.js';

describe('reportStoreConfig', () => {
  it('defaults to .data/reports (resolved) and 30 days', () => {
    const config = loadConfig(reportStoreConfig, {});
    expect(config).toEqual({ reportsDir: resolve('.data/reports'), reportRetentionDays: 30 });
    const store = createReportStore(config);
    expect(store.kind).toBe('filesystem');
    expect(store.location).toBe(resolve('.data/reports'));
  });

  it('reads both keys and names every bad one', () => {
    expect(
      loadConfig(reportStoreConfig, { REPORTS_DIR: '/srv/reports', REPORT_RETENTION_DAYS: '7' }),
    ).toEqual({
      reportsDir: '/srv/reports',
      reportRetentionDays: 7,
    });
    try {
      loadConfig(reportStoreConfig, { REPORTS_DIR: 'a\u0001b', REPORT_RETENTION_DAYS: '0' });
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      const issues = (error as ConfigError).issues.join('\n');
      expect(issues).toMatch(/REPORTS_DIR/);
      expect(issues).toMatch(/REPORT_RETENTION_DAYS/);
    }
  });
});

describe('download headers', () => {
  const report = {
    tenant: 'acme',
    date: '2026-03-14',
    jobId: '7',
    format: 'pdf' as const,
    path: 'acme/2026-03-14/7.pdf',
    bytes: 1234,
    sha256: 'a'.repeat(64),
    contentType: 'application/pdf',
    fileName: 'report-acme-2026-03-14.pdf',
    storedAt: '2026-03-15T02:00:00.000Z',
  };

  it('gives type, length, disposition and a strong ETag from the sha256', () => {
    expect(reportHeaders(report)).toEqual({
      'content-type': 'application/pdf',
      'content-length': '1234',
      'content-disposition': 'attachment; filename="report-acme-2026-03-14.pdf"',
      etag: `"${'a'.repeat(64)}"`,
    });
  });

  it('matches If-None-Match lists, weak tags and *', () => {
    const tag = `"${'a'.repeat(64)}"`;
    expect(ifNoneMatchHits(tag, report)).toBe(true);
    expect(ifNoneMatchHits(`"x", W/${tag}`, report)).toBe(true);
    expect(ifNoneMatchHits('*', report)).toBe(true);
    expect(ifNoneMatchHits('"other"', report)).toBe(false);
    expect(ifNoneMatchHits(undefined, report)).toBe(false);
  });
});
