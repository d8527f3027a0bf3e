/**
 * A bad `OTEL_*` key is only read while an app starts (tracing is set up
 * before the first connection), after the app's own keys were checked. It must
 * still end the process like any bad key: one message naming it on stderr,
 * exit code 1, no stack trace. Run against every app that traces.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ServiceProcess, spawnService } from '@jobfleet/test-utils';
// Declares the `redisUrl` that the global setup provides.
import type {} from '@jobfleet/test-utils/global-setup';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { isBuilt, mainOf, SERVICES } from './support/services.js';

/** The apps that export traces; the dashboard does not read `OTEL_*`. */
const TRACED = SERVICES.filter((spec) => spec.app !== 'dashboard');

const dataDir = mkdtempSync(join(tmpdir(), 'jobfleet-startup-errors-'));
const children: ServiceProcess[] = [];
afterAll(() => {
  for (const child of children) child.child.kill('SIGKILL');
  rmSync(dataDir, { recursive: true, force: true });
});

describe.each(TRACED)('$app with a bad OTEL_* key', (spec) => {
  it.skipIf(!isBuilt(spec))(
    'prints one message naming the key and exits 1, without a stack trace',
    async () => {
      const service = spawnService({
        main: mainOf(spec),
        cwd: dataDir,
        name: spec.app,
        env: {
          REDIS_URL: inject('redisUrl'),
          [spec.portKey]: '0',
          ...spec.env?.({ redisUrl: inject('redisUrl'), prefix: 'startup-errors', dataDir, smtpUrl: '' }),
          SMTP_URL: '',
          OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318',
          OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc',
        },
      });
      children.push(service);
      expect(await service.exited).toEqual({ code: 1, signal: null });
      const stderr = service.stderr();
      expect(stderr).toMatch(/^invalid configuration:\n {2}OTEL_EXPORTER_OTLP_PROTOCOL: /);
      expect(stderr).not.toMatch(/\n\s+at /);
      expect(service.logs.filter((line) => line.level !== undefined && line.level >= 50)).toEqual([]);
    },
  );
});
