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
    name: 'email-worker',
    main: 'apps/email-worker/dist/main.js',
    portKey: 'METRICS_PORT',
    overrideKey: 'EMAIL_WORKER_METRICS_PORT',
    defaultPort: 9101,
    describe: (url) => `metrics ${url}/metrics, health ${url}/health/ready`,
  },
];
