import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { type FleetApp, portVariable, readFleet, workerOfQueue } from '@jobfleet/fleet';
import { APPS_DIR, FLEET_FILE } from './paths.js';

/** What a service's environment may depend on in a test run. */
export interface FleetContext {
  redisUrl: string;
  /** The Redis keys of every app's environment instead of `REDIS_URL` (a Redis Cluster's, say). */
  redisEnv?: Readonly<Record<string, string>>;
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
  /** That port's default (fleet.json); Prometheus and compose use it. */
  defaultPort: number;
  /** Environment beyond REDIS_URL, JOBFLEET_PREFIX, HOST, LOG_LEVEL and the port. */
  env?: (context: FleetContext) => Record<string, string>;
}

/** The fleet manifest: which apps run, on which ports, working which queues. */
export const FLEET = readFleet(FLEET_FILE);

/**
 * What some apps need in a test run besides the defaults. Optional: an app
 * of fleet.json without an entry (a newly generated worker) runs with the
 * defaults alone.
 */
const TEST_ENV: Readonly<Record<string, ServiceSpec['env']>> = {
  // Load shedding off: five apps starting at once on a small machine lag the event loop.
  gateway: () => ({ GATEWAY_AUTH: 'disabled', PRESSURE_MAX_EVENT_LOOP_DELAY_MS: '0' }),
  dashboard: () => ({ DASHBOARD_AUTH: 'disabled' }),
  'email-worker': (c) => ({ SMTP_URL: c.smtpUrl, SMTP_STARTTLS: 'off' }),
  'report-worker': (c) => ({ REPORTS_DIR: join(c.dataDir, 'reports') }),
  // Under its own prefix: its `emails` queue is not the fleet's, so it takes none of the tests' jobs.
  'http-worker': (c) => ({
    HTTP_WORKER_QUEUES: 'emails',
    HTTP_WORKER_URL: 'http://127.0.0.1:9/jobs',
    JOBFLEET_PREFIX: `${c.prefix}-http-worker`,
  }),
};

const specOf = (app: FleetApp): ServiceSpec => {
  const env = TEST_ENV[app.name];
  return { app: app.name, portKey: portVariable(app), defaultPort: app.port, ...(env ? { env } : {}) };
};

/** Every app of fleet.json, in its order. */
export const SERVICES: readonly ServiceSpec[] = FLEET.apps.map(specOf);

/** The entrypoint the tests run (`node apps/<app>/dist/main.js`). */
export const mainOf = (spec: ServiceSpec): string => join(APPS_DIR, spec.app, 'dist', 'main.js');

export const isBuilt = (spec: ServiceSpec): boolean => existsSync(mainOf(spec));

/** The service that works a queue, for waiting on its jobs. */
export const WORKER_OF_QUEUE: Readonly<Record<string, string>> = Object.fromEntries(
  [...workerOfQueue(FLEET)].map(([queue, app]) => [queue, app.name]),
);
