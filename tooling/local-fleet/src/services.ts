/** One process of the local fleet. */
export interface FleetService {
  name: string;
  /** The entrypoint, relative to the repository root. */
  main: string;
  /** The env key that holds its HTTP port, and where `pnpm start` reads an override for it. */
  portKey: 'PORT' | 'METRICS_PORT';
  overrideKey: string;
  defaultPort: number;
  /** What to print for it once it is ready. */
  describe(url: string): string;
}

/** Every app of the fleet, in start order. Later apps add a line here. */
export const FLEET: readonly FleetService[] = [
  {
    name: 'gateway',
    main: 'apps/gateway/dist/main.js',
    portKey: 'PORT',
    overrideKey: 'GATEWAY_PORT',
    defaultPort: 3000,
    describe: (url) => `HTTP API ${url}/v1  (metrics ${url}/metrics)`,
  },
  {
    name: 'dashboard',
    main: 'apps/dashboard/dist/main.js',
    portKey: 'PORT',
    overrideKey: 'DASHBOARD_PORT',
    defaultPort: 3001,
    describe: (url) => `dashboard ${url}/  (queues ${url}/admin/queues)`,
  },
  {
    name: 'email-worker',
    main: 'apps/email-worker/dist/main.js',
    portKey: 'METRICS_PORT',
    overrideKey: 'EMAIL_WORKER_METRICS_PORT',
    defaultPort: 9101,
    describe: (url) => `metrics ${url}/metrics, health ${url}/health/ready`,
  },
  {
    name: 'report-worker',
    main: 'apps/report-worker/dist/main.js',
    portKey: 'METRICS_PORT',
    overrideKey: 'REPORT_WORKER_METRICS_PORT',
    defaultPort: 9102,
    describe: (url) => `metrics ${url}/metrics, health ${url}/health/ready`,
  },
  {
    name: 'dlq-processor',
    main: 'apps/dlq-processor/dist/main.js',
    portKey: 'METRICS_PORT',
    overrideKey: 'DLQ_PROCESSOR_METRICS_PORT',
    defaultPort: 9103,
    describe: (url) => `metrics ${url}/metrics, health ${url}/health/ready`,
  },
];
