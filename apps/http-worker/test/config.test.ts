import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, generateWebhookSecret } from '@jobfleet/service-kit';
import { afterAll, describe, expect, it } from 'vitest';
import { endpointOf } from '../src/config.js';
import { worker } from '../src/worker.js';

/** The lines of the one ConfigError `env` gives. */
function issues(env: Record<string, string>): string[] {
  try {
    worker.loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.issues;
    throw error;
  }
  throw new Error('the configuration was accepted');
}

describe('http-worker configuration', () => {
  const dir = mkdtempSync(join(tmpdir(), 'http-worker-config-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('needs only the queues and one URL; a queue may have its own', () => {
    const config = worker.loadConfig({
      HTTP_WORKER_QUEUES: 'emails',
      HTTP_WORKER_URL: 'http://10.0.0.5:8000/jobs',
    });
    expect(config.httpWorkerQueues?.map((q) => q.name)).toEqual(['emails']);
    expect(endpointOf(config, 'emails')).toBe('http://10.0.0.5:8000/jobs');
    expect(config.httpWorkerTimeoutMs).toBe(60_000);
    expect(config.httpWorkerSecret).toBeUndefined();

    const both = worker.loadConfig({
      HTTP_WORKER_QUEUES: 'emails,reports',
      HTTP_WORKER_URL_EMAILS: 'https://mail.example.com/push',
      HTTP_WORKER_URL_REPORTS: 'https://reports.example.com/push',
    });
    expect(endpointOf(both, 'emails')).toBe('https://mail.example.com/push');
    expect(endpointOf(both, 'reports')).toBe('https://reports.example.com/push');
  });

  it('names every bad key at once, the queue list included', () => {
    expect(
      issues({
        HTTP_WORKER_QUEUES: 'emails, thumbnails,dead-letters',
        HTTP_WORKER_URL: 'http://x/',
        HTTP_WORKER_TIMEOUT_MS: 'soon',
      }),
    ).toEqual([
      expect.stringMatching(
        /^HTTP_WORKER_QUEUES: names no queue of the catalog: "thumbnails", "dead-letters"/,
      ),
      expect.stringMatching(/^HTTP_WORKER_TIMEOUT_MS: must be a duration/),
    ]);
    expect(issues({ HTTP_WORKER_TIMEOUT_MS: 'soon' })).toEqual([
      'HTTP_WORKER_QUEUES: is required (the catalog queues to work)',
      expect.stringMatching(/^HTTP_WORKER_TIMEOUT_MS: must be a duration/),
    ]);
    expect(issues({ HTTP_WORKER_QUEUES: 'emails,emails', HTTP_WORKER_URL: 'http://x/' })).toEqual([
      expect.stringMatching(/^HTTP_WORKER_QUEUES: lists "emails" twice/),
    ]);
  });

  it('needs an endpoint for every queue', () => {
    expect(issues({ HTTP_WORKER_QUEUES: 'emails,reports', HTTP_WORKER_URL_EMAILS: 'http://x/' })).toEqual([
      'HTTP_WORKER_URL: is required (no HTTP_WORKER_URL_REPORTS is set)',
    ]);
    expect(issues({ HTTP_WORKER_QUEUES: 'emails', HTTP_WORKER_URL: 'ftp://x/' })).toEqual([
      expect.stringMatching(/^HTTP_WORKER_URL: must use http: or https:/),
    ]);
  });

  it('reads the secret inline or from a file, never both, and never echoes a bad one', () => {
    const secret = generateWebhookSecret();
    const base = { HTTP_WORKER_QUEUES: 'emails', HTTP_WORKER_URL: 'http://x/' };
    expect(worker.loadConfig({ ...base, HTTP_WORKER_SECRET: secret }).httpWorkerSecret).toBe(secret);
    const file = join(dir, 'secret');
    writeFileSync(file, `${secret}\n`);
    expect(worker.loadConfig({ ...base, HTTP_WORKER_SECRET_FILE: file }).httpWorkerSecretFile).toBe(secret);
    expect(issues({ ...base, HTTP_WORKER_SECRET: secret, HTTP_WORKER_SECRET_FILE: file })).toEqual([
      'HTTP_WORKER_SECRET and HTTP_WORKER_SECRET_FILE: set one of them, not both',
    ]);
    const [problem] = issues({ ...base, HTTP_WORKER_SECRET: 'hunter2-hunter2-hunter2-hunter2' });
    expect(problem).toMatch(/^HTTP_WORKER_SECRET: must be whsec_/);
    expect(problem).not.toContain('hunter2');
  });

  it('keeps the checks every process makes on the common keys', () => {
    expect(
      issues({
        HTTP_WORKER_QUEUES: 'emails',
        HTTP_WORKER_URL: 'http://x/',
        REDIS_SENTINELS: '127.0.0.1:26379',
      }).join('\n'),
    ).toMatch(/REDIS_SENTINEL_NAME/);
  });
});
