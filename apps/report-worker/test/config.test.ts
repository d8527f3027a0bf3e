import { resolve } from 'node:path';
import { ConfigError } from '@jobfleet/service-kit';
import { describe, expect, it } from 'vitest';
import { worker } from '../src/worker.js';

describe('the report worker configuration', () => {
  it('has the documented defaults', () => {
    const config = worker.loadConfig({});
    expect(config).toMatchObject({
      metricsPort: 9102,
      workerConcurrency: undefined,
      reportsDir: resolve('.data/reports'),
      reportRetentionDays: 30,
      reportTimezone: 'UTC',
      reportTimeoutMs: 120_000,
      reportSandboxMemoryMb: 512,
      reportTrimIntervalMs: 3_600_000,
      gatewayPublicUrl: 'http://localhost:3000',
    });
    // Unset WORKER_CONCURRENCY: one render per core of the machines jobfleet targets.
    expect(worker.concurrency(config)).toEqual({ reports: 2 });
  });

  it('reads its keys, accepting durations with units and dropping a trailing slash', () => {
    const config = worker.loadConfig({
      REPORT_TIMEZONE: 'Europe/Berlin',
      REPORT_TIMEOUT_MS: '5m',
      GATEWAY_PUBLIC_URL: 'https://jobs.example.com/base/',
      REPORTS_DIR: '/srv/reports',
    });
    expect(config).toMatchObject({
      reportTimezone: 'Europe/Berlin',
      reportTimeoutMs: 300_000,
      gatewayPublicUrl: 'https://jobs.example.com/base',
      reportsDir: '/srv/reports',
    });
  });

  it('names every bad key in one error', () => {
    try {
      worker.loadConfig({
        REPORT_TIMEZONE: 'Mars/Olympus_Mons',
        REPORT_TIMEOUT_MS: 'soon',
        GATEWAY_PUBLIC_URL: 'ftp://jobs.example.com',
        REPORT_RETENTION_DAYS: '0',
      });
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      const issues = (error as ConfigError).issues;
      expect(issues.map((issue) => issue.split(':')[0]).sort()).toEqual([
        'GATEWAY_PUBLIC_URL',
        'REPORT_RETENTION_DAYS',
        'REPORT_TIMEOUT_MS',
        'REPORT_TIMEZONE',
      ]);
    }
    expect(() => worker.loadConfig({ GATEWAY_PUBLIC_URL: 'https://x.example/?q=1' })).toThrow(
      /GATEWAY_PUBLIC_URL: must be a base URL/,
    );
  });
});
