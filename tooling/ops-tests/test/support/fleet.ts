import { type ChildProcess, spawn } from 'node:child_process';
import { freePort, waitUntilReady } from '@jobfleet/test-utils';
import { type FleetContext, mainOf, type ServiceSpec } from './services.js';

/** One app running as `node apps/<app>/dist/main.js`. */
export interface RunningService {
  readonly spec: ServiceSpec;
  /** `http://127.0.0.1:<port>`: /metrics and /health/* (and the API, for HTTP apps). */
  readonly url: string;
  /** Its process id, to tell a restart from the same process. */
  readonly pid: number | undefined;
  /** Whether it still runs. */
  alive(): boolean;
  /** The last part of its stdout and stderr, for failure messages. */
  output(): string;
}

export interface Fleet {
  readonly services: readonly RunningService[];
  find(app: string): RunningService | undefined;
  /** SIGTERM to every app, SIGKILL to those still running after the deadline. */
  stop(): Promise<void>;
}

const OUTPUT_LIMIT = 20_000;
const READY_TIMEOUT_MS = 30_000;

function exited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

function stopChild(child: ChildProcess, deadlineMs: number): Promise<void> {
  if (exited(child)) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), deadlineMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/**
 * Starts every spec's app at once on free ports with only the environment it
 * needs, and resolves when each answers /health/ready. If one fails, the
 * others are stopped and the error names it, with its output.
 */
export async function startFleet(specs: readonly ServiceSpec[], context: FleetContext): Promise<Fleet> {
  const children: ChildProcess[] = [];
  const stop = async () => {
    await Promise.all(children.map((child) => stopChild(child, 10_000)));
  };
  const start = async (spec: ServiceSpec): Promise<RunningService> => {
    const port = await freePort();
    const child = spawn(process.execPath, [mainOf(spec)], {
      cwd: context.dataDir,
      env: {
        PATH: process.env.PATH ?? '',
        ...(context.redisEnv ?? { REDIS_URL: context.redisUrl }),
        JOBFLEET_PREFIX: context.prefix,
        HOST: '127.0.0.1',
        LOG_LEVEL: 'warn',
        [spec.portKey]: String(port),
        ...spec.env?.(context),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    let text = '';
    const append = (chunk: Buffer) => {
      text = `${text}${chunk.toString()}`.slice(-OUTPUT_LIMIT);
    };
    child.stdout?.on('data', append);
    child.stderr?.on('data', append);
    const output = () => text;
    const url = `http://127.0.0.1:${port}`;
    await waitUntilReady(url, { timeoutMs: READY_TIMEOUT_MS, child, output }).catch((error: Error) => {
      throw new Error(`${spec.app}: ${error.message}`);
    });
    return { spec, url, pid: child.pid, alive: () => !exited(child), output };
  };

  const started = await Promise.allSettled(specs.map(start));
  const failures = started.flatMap((result) =>
    result.status === 'rejected' ? [result.reason as Error] : [],
  );
  if (failures.length > 0) {
    await stop();
    throw new Error(failures.map((error) => error.message).join('\n\n'));
  }
  const services = started.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
  return { services, find: (app) => services.find((service) => service.spec.app === app), stop };
}

/** GET /metrics of a running service; throws on anything but 200. */
export async function scrape(service: RunningService): Promise<string> {
  const response = await fetch(`${service.url}/metrics`, { signal: AbortSignal.timeout(10_000) });
  const text = await response.text();
  if (response.status !== 200)
    throw new Error(`${service.spec.app}: /metrics answered ${response.status}: ${text}`);
  return text;
}
