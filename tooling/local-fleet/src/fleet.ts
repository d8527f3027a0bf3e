import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { formatPasswordHash, hashPassword } from '@jobfleet/dashboard/password';
import { type RedisServer, waitUntilReady } from '@jobfleet/test-utils';
import { describeEmailTransport } from './banner.js';
import { developmentSecret } from './dev-key.js';
import { type FleetApp, isEnabled, readFleetManifest } from './manifest.js';
import { resolveRedis } from './redis.js';
import { DEFAULT_RESTART_POLICY, type RestartPolicy, restartDelay } from './restart-policy.js';
import { type FleetService, fleetServices, servicePort } from './services.js';

export interface FleetOptions {
  root: string;
  env: NodeJS.ProcessEnv;
  /** Where the launcher's own lines and the apps' log lines go. */
  out: (line: string) => void;
  /** The apps to run; by default those of `<root>/fleet.json`. */
  services?: readonly FleetService[];
  /** How crashed apps are restarted; by default 1 s doubling up to 30 s, reset after a minute up. */
  restart?: RestartPolicy;
}

/** The local fleet: created idle, so a signal that arrives while it starts can stop it too. */
export interface LocalFleet {
  /** Starts Redis if needed, then every app in order, each once the previous one is ready. */
  start(): Promise<StartedFleet>;
  /** Each app's current process id (it changes when the app is restarted); undefined while it is down. */
  pids(): Record<string, number | undefined>;
  /**
   * Stops the apps (SIGTERM, letting in-flight jobs finish; SIGKILL for any still
   * running `SHUTDOWN_TIMEOUT_MS` + 5 s later), then our Redis. Resolves to the
   * apps' worst exit code. Also ends a `start()` in progress, which then rejects.
   */
  stop(): Promise<number>;
  /** Stops at once: SIGKILL to every app, then our Redis. Resolves as {@link LocalFleet.stop} does. */
  kill(): Promise<number>;
  /** SIGKILL to every app and our Redis, synchronously: for a launcher that is exiting anyway. */
  killNow(): void;
}

export interface StartedFleet {
  urls: Record<string, string>;
  apiKey: string | undefined;
}

/** What {@link startFleet} resolves to. */
export type RunningFleet = LocalFleet & StartedFleet;

/** Beyond the apps' own shutdown deadline, before the launcher stops waiting for them. */
const STOP_GRACE_MS = 5_000;

/** One app under supervision. */
interface App {
  readonly service: FleetService;
  readonly port: number;
  readonly url: string;
  child: ChildProcess | undefined;
  /** Once ready for the first time, a crash restarts it; before that it fails the start. */
  supervised: boolean;
  crashesInARow: number;
  startedAt: number;
  restartTimer: NodeJS.Timeout | undefined;
}

const alive = (child: ChildProcess | undefined): boolean =>
  child !== undefined && child.exitCode === null && child.signalCode === null;

/** Starts the fleet and resolves once every app is ready. */
export async function startFleet(options: FleetOptions): Promise<RunningFleet> {
  const fleet = createFleet(options);
  return { ...fleet, ...(await fleet.start()) };
}

/**
 * The local fleet of `fleet.json`'s apps, not yet started. Reads the manifest
 * and the port overrides now, so a mistake in either throws before anything runs.
 */
export function createFleet({ root, env, out, services, restart }: FleetOptions): LocalFleet {
  const policy = restart ?? DEFAULT_RESTART_POLICY;
  const manifest = services ? [] : readFleetManifest(root);
  // Apps that run only when configured (the http-worker) stay off otherwise; the banner says how to turn them on.
  const off: FleetApp[] = manifest.filter((app) => !isEnabled(app, env));
  const fleet = services ?? fleetServices(manifest.filter((app) => isEnabled(app, env)));
  const shutdownTimeoutMs = Number(env.SHUTDOWN_TIMEOUT_MS) > 0 ? Number(env.SHUTDOWN_TIMEOUT_MS) : 30_000;
  const dataDir = env.JOBFLEET_DATA_DIR ?? join(root, '.data');
  const apps: App[] = fleet.map((service) => {
    const port = servicePort(service, env);
    return {
      service,
      port,
      url: `http://127.0.0.1:${port}`,
      child: undefined,
      supervised: false,
      crashesInARow: 0,
      startedAt: 0,
      restartTimer: undefined,
    };
  });
  let redis: Promise<{ url: string; server?: RedisServer } | undefined> = Promise.resolve(undefined);
  let shared: NodeJS.ProcessEnv = env;
  let stopping: Promise<number> | undefined;

  const launch = (app: App): ChildProcess => {
    const { service } = app;
    // Own process group: a terminal's Ctrl-C reaches only the launcher, which then stops the apps in order.
    const child = spawn(process.execPath, [...service.nodeOptions, join(root, service.main)], {
      cwd: root,
      env: { ...shared, [service.portKey]: String(app.port) },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    app.child = child;
    app.startedAt = performance.now();
    for (const stream of [child.stdout, child.stderr]) {
      if (stream) createInterface({ input: stream }).on('line', (line) => out(`[${service.name}] ${line}`));
    }
    child.once('exit', (code, signal) => {
      if (stopping || !app.supervised) return;
      if (performance.now() - app.startedAt >= policy.resetAfterMs) app.crashesInARow = 0;
      app.crashesInARow += 1;
      const delay = restartDelay(app.crashesInARow, policy);
      const how = signal ? `signal ${signal}` : `code ${code}`;
      out(
        `[fleet] ${service.name} exited unexpectedly (${how}); restarting it in ${delay / 1000} s (crash ${app.crashesInARow} in a row)`,
      );
      app.restartTimer = setTimeout(() => {
        app.restartTimer = undefined;
        if (!stopping) relaunch(app);
      }, delay);
    });
    return child;
  };

  const relaunch = (app: App) => {
    const child = launch(app);
    out(`[fleet] restarting ${app.service.name} (pid ${child.pid})`);
    waitUntilReady(app.url, { timeoutMs: 60_000, intervalMs: 200, child }).then(
      () => out(`[fleet] ${app.service.name} is ready again at ${app.url}`),
      // An exit is handled (and logged) by the exit listener; this is only a slow start.
      (error: Error) => {
        if (alive(child)) out(`[fleet] ${app.service.name}: ${error.message}`);
      },
    );
  };

  const stopAll = async (): Promise<number> => {
    let worst = 0;
    for (const app of apps) clearTimeout(app.restartTimer);
    await Promise.all(
      apps.map(async ({ service, child }) => {
        // Not started, or crashed and waiting for its restart: nothing to stop.
        if (!child || !alive(child)) return;
        const exited = new Promise<void>((resolve) =>
          child.once('exit', (code, signal) => {
            worst = Math.max(worst, code ?? 1);
            out(`[fleet] ${service.name} exited with ${signal ? `signal ${signal}` : `code ${code}`}`);
            resolve();
          }),
        );
        child.kill('SIGTERM');
        const overdue = setTimeout(() => {
          out(
            `[fleet] ${service.name} still runs ${shutdownTimeoutMs + STOP_GRACE_MS} ms after SIGTERM: killing it`,
          );
          child.kill('SIGKILL');
        }, shutdownTimeoutMs + STOP_GRACE_MS);
        await exited;
        clearTimeout(overdue);
      }),
    );
    const server = (await redis)?.server;
    if (server) {
      out('[fleet] stopping redis-server');
      await server.shutdown();
    }
    return worst;
  };

  const stop = () => {
    stopping ??= stopAll();
    return stopping;
  };
  const killApps = () => {
    for (const app of apps) {
      clearTimeout(app.restartTimer);
      if (alive(app.child)) app.child?.kill('SIGKILL');
    }
  };
  let redisServer: RedisServer | undefined;
  const stoppedWhileStarting = () => new Error('stopped while starting');

  const start = async (): Promise<StartedFleet> => {
    // A cluster or sentinels are the user's own: passed through as they are, nothing started.
    const distributed = env.REDIS_CLUSTER_NODES
      ? `cluster ${env.REDIS_CLUSTER_NODES}`
      : env.REDIS_SENTINELS
        ? `sentinel ${env.REDIS_SENTINEL_NAME ?? ''}@${env.REDIS_SENTINELS}`
        : undefined;
    redis = resolveRedis({
      redisUrl: distributed ? '' : env.REDIS_URL,
      distributed: distributed !== undefined,
      port: Number(env.JOBFLEET_LOCAL_REDIS_PORT ?? 6379),
      dataDir,
      log: (line) => out(`[fleet] ${line}`),
    });
    const resolved = (await redis) as { url: string; server?: RedisServer };
    const redisUrl = resolved.url;
    redisServer = resolved.server;
    if (stopping) throw stoppedWhileStarting();

    const ownKeys = !env.GATEWAY_API_KEYS && !env.GATEWAY_API_KEYS_FILE && env.GATEWAY_AUTH !== 'disabled';
    const apiKey = ownKeys ? developmentSecret(join(dataDir, 'dev-api-key'), 'dev_') : undefined;
    const ownUsers = !env.DASHBOARD_USERS && !env.DASHBOARD_USERS_FILE && env.DASHBOARD_AUTH !== 'disabled';
    const dashboardPassword = ownUsers
      ? developmentSecret(join(dataDir, 'dev-dashboard-password'))
      : undefined;
    const dashboardUsers = dashboardPassword
      ? JSON.stringify([
          {
            username: 'dev',
            passwordHash: formatPasswordHash(await hashPassword(dashboardPassword)),
            role: 'admin',
          },
        ])
      : undefined;
    shared = {
      ...env,
      // Kept under .data so dashboard logins survive a restart of `pnpm start`.
      DASHBOARD_SESSION_SECRET:
        env.DASHBOARD_SESSION_SECRET ?? developmentSecret(join(dataDir, 'dev-session-secret')),
      ...(dashboardUsers ? { DASHBOARD_USERS: dashboardUsers } : {}),
      ...(distributed ? {} : { REDIS_URL: redisUrl }),
      HOST: env.HOST ?? '127.0.0.1',
      EMAIL_OUTBOX_DIR: env.EMAIL_OUTBOX_DIR ?? join(dataDir, 'outbox'),
      REPORTS_DIR: env.REPORTS_DIR ?? join(dataDir, 'reports'),
      ...(apiKey
        ? {
            GATEWAY_API_KEYS: JSON.stringify([
              {
                id: 'development',
                key: apiKey,
                scopes: ['admin'],
                // Signs the development key's completion webhooks (a Standard Webhooks `whsec_` secret).
                webhookSecret: developmentSecret(join(dataDir, 'dev-webhook-secret'), 'whsec_', 'base64'),
              },
            ]),
          }
        : {}),
    };

    try {
      for (const app of apps) {
        if (stopping) throw stoppedWhileStarting();
        const child = launch(app);
        await waitUntilReady(app.url, { timeoutMs: 30_000, intervalMs: 200, child }).catch((error: Error) => {
          throw stopping ? stoppedWhileStarting() : new Error(`${app.service.name}: ${error.message}`);
        });
        app.supervised = true;
      }
      if (stopping) throw stoppedWhileStarting();
    } catch (error) {
      await stop();
      throw error;
    }

    out('');
    out('jobfleet is running:');
    // One column for the labels, as wide as the longest app name (a generated worker's can be long).
    const width = Math.max(
      14,
      ...apps.map((app) => app.service.name.length),
      ...off.map((app) => app.name.length),
    );
    const line = (label: string, text: string) => out(`  ${label.padEnd(width)} ${text}`);
    for (const app of apps) line(app.service.name, app.service.describe(app.url));
    for (const app of off) line(app.name, `not started: set ${app.enabledBy} to run it`);
    line('redis', distributed ?? `${redisUrl}${redisServer ? ' (started by pnpm start)' : ''}`);
    if (apiKey)
      line('API key', `${apiKey}   (development key, scope admin; kept in ${join(dataDir, 'dev-api-key')})`);
    if (dashboardPassword) {
      const where = join(dataDir, 'dev-dashboard-password');
      line(
        'dashboard',
        `user "dev", password ${dashboardPassword}   (development user, admin; kept in ${where})`,
      );
    }
    line('e-mail', describeEmailTransport(shared, shared.EMAIL_OUTBOX_DIR ?? ''));
    line('reports', shared.REPORTS_DIR ?? '');
    out('Press Ctrl-C (or send SIGTERM) to stop; a second signal stops at once. A crashed app is restarted.');
    return { urls: Object.fromEntries(apps.map((app) => [app.service.name, app.url])), apiKey };
  };

  return {
    start,
    pids: () =>
      Object.fromEntries(
        apps.map((app) => [app.service.name, alive(app.child) ? app.child?.pid : undefined]),
      ),
    stop,
    kill() {
      const done = stop();
      killApps();
      return done;
    },
    killNow() {
      killApps();
      // Sends SIGKILL at once; the promise only reports the exit.
      void redisServer?.kill();
    },
  };
}
