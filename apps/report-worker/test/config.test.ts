import { resolve } from 'node:path';
import { ConfigError, loadConfig } from '@jobfleet/service-kit';
import { describe, expect, it } from 'vitest';
import { reportWorkerConfig } from '../src/index.js';

describe('reportWorkerConfig', () => {
  it('has the documented defaults', () => {
    const config = loadConfig(reportWorkerConfig, {});
    expect(config).toMatchObject({
      metricsPort: 9102,
      workerConcurrency: 2,
      reportsDir: resolve('.data/reports'),
      reportRetentionDays: 30,
      reportTimezone: 'UTC',
      reportTimeoutMs: 120_000,
      reportSandboxMemoryMb: 512,
      reportTrimIntervalMs: 3_600_000,
      gatewayPublicUrl: 'http://localhost:3000',
    });
  });

  it('reads its keys, accepting durations with units and dropping a trailing slash', () => {
    const config = loadConfig(reportWorkerConfig, {
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
      loadConfig(reportWorkerConfig, {
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
    expect(() => loadConfig(reportWorkerConfig, { GATEWAY_PUBLIC_URL: 'https://x.example/?q=1' })).toThrow(
      /GATEWAY_PUBLIC_URL: must be a base URL/,
    );
  });
});
