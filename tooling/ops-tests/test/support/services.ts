import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { APPS_DIR } from './paths.js';

/** What a service's environment may depend on in a test run. */
export interface FleetContext {
  redisUrl: string;
  /** JOBFLEET_PREFIX of the run. */
  prefix: string;
  /** A temporary directory: every app's working directory, so relative data paths land there. */
  dataDir: string;
  /** The test SMTP server. */
  smtpUrl: string;
}

/** One jobfleet app, as the tests run it and as Prometheus and compose name it. */
export interface ServiceSpec {
  /** Its directory under apps/, which is also its compose service and its Prometheus job name. */
  app: string;
  /** The variable of the port that serves /metrics and /health: PORT (HTTP apps) or METRICS_PORT (workers). */
  portKey: 'PORT' | 'METRICS_PORT';
  /** That port's default (ARCHITECTURE.md); Prometheus and compose use it. */
  defaultPort: number;
  /** Environment beyond REDIS_URL, JOBFLEET_PREFIX, HOST, LOG_LEVEL and the port. */
  env?: (context: FleetContext) => Record<string, string>;
}

/** Every app of apps/, one line each. A test fails when an app has no line here. */
export const SERVICES: readonly ServiceSpec[] = [
  // Load shedding off: five apps starting at once on a small machine lag the event loop.
  {
    app: 'gateway',
    portKey: 'PORT',
    defaultPort: 3000,
    env: () => ({ GATEWAY_AUTH: 'disabled', PRESSURE_MAX_EVENT_LOOP_DELAY_MS: '0' }),
  },
  { app: 'dashboard', portKey: 'PORT', defaultPort: 3001, env: () => ({ DASHBOARD_AUTH: 'disabled' }) },
  {
    app: 'email-worker',
    portKey: 'METRICS_PORT',
    defaultPort: 9101,
    env: (c) => ({ SMTP_URL: c.smtpUrl, SMTP_STARTTLS: 'off' }),
  },
  {
    app: 'report-worker',
    portKey: 'METRICS_PORT',
    defaultPort: 9102,
    env: (c) => ({ REPORTS_DIR: join(c.dataDir, 'reports') }),
  },
  { app: 'dlq-processor', portKey: 'METRICS_PORT', defaultPort: 9103 },
];

/** The entrypoint the tests run (`node apps/<app>/dist/main.js`). */
export const mainOf = (spec: ServiceSpec): string => join(APPS_DIR, spec.app, 'dist', 'main.js');

export const isBuilt = (spec: ServiceSpec): boolean => existsSync(mainOf(spec));

/** The service that works a queue, for waiting on its jobs. */
export const WORKER_OF_QUEUE: Readonly<Record<string, string>> = {
  emails: 'email-worker',
  reports: 'report-worker',
  'dead-letters': 'dlq-processor',
};
