import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { formatPasswordHash, hashPassword } from '@jobfleet/dashboard/password';
import { waitUntilReady } from '@jobfleet/test-utils';
import { developmentSecret } from './dev-key.js';
import { resolveRedis } from './redis.js';
import { FLEET } from './services.js';

export interface FleetOptions {
  root: string;
  env: NodeJS.ProcessEnv;
  /** Where the launcher's own lines and the apps' log lines go. */
  out: (line: string) => void;
}

export interface RunningFleet {
  urls: Record<string, string>;
  apiKey: string | undefined;
  /** Stops the apps (SIGTERM, letting in-flight jobs finish), then our Redis. Resolves to the apps' worst exit code. */
  stop(): Promise<number>;
  /** Resolves when any app exits on its own. */
  exited: Promise<{ name: string; code: number | null }>;
}

/** Starts Redis if needed, then every app of the fleet, and waits until each is ready. */
export async function startFleet({ root, env, out }: FleetOptions): Promise<RunningFleet> {
  const dataDir = env.JOBFLEET_DATA_DIR ?? join(root, '.data');
  const redis = await resolveRedis({
    redisUrl: env.REDIS_URL,
    port: Number(env.JOBFLEET_LOCAL_REDIS_PORT ?? 6379),
    dataDir,
    log: (line) => out(`[fleet] ${line}`),
  });

  const ownKeys = !env.GATEWAY_API_KEYS && !env.GATEWAY_API_KEYS_FILE && env.GATEWAY_AUTH !== 'disabled';
  const apiKey = ownKeys ? developmentSecret(join(dataDir, 'dev-api-key'), 'dev_') : undefined;
  const ownUsers = !env.DASHBOARD_USERS && !env.DASHBOARD_USERS_FILE && env.DASHBOARD_AUTH !== 'disabled';
  const dashboardPassword = ownUsers ? developmentSecret(join(dataDir, 'dev-dashboard-password')) : undefined;
  const dashboardUsers = dashboardPassword
    ? JSON.stringify([
        {
          username: 'dev',
          passwordHash: formatPasswordHash(await hashPassword(dashboardPassword)),
          role: 'admin',
        },
      ])
    : undefined;
  const shared: NodeJS.ProcessEnv = {
    ...env,
    // Kept under .data so dashboard logins survive a restart of `pnpm start`.
    DASHBOARD_SESSION_SECRET:
      env.DASHBOARD_SESSION_SECRET ?? developmentSecret(join(dataDir, 'dev-session-secret')),
    ...(dashboardUsers ? { DASHBOARD_USERS: dashboardUsers } : {}),
    REDIS_URL: redis.url,
    HOST: env.HOST ?? '127.0.0.1',
    EMAIL_OUTBOX_DIR: env.EMAIL_OUTBOX_DIR ?? join(dataDir, 'outbox'),
    REPORTS_DIR: env.REPORTS_DIR ?? join(dataDir, 'reports'),
    ...(apiKey
      ? { GATEWAY_API_KEYS: JSON.stringify([{ id: 'development', key: apiKey, scopes: ['admin'] }]) }
      : {}),
  };

  const children = new Map<string, ChildProcess>();
  const urls: Record<string, string> = {};
  let notifyExit: (value: { name: string; code: number | null }) => void = () => {};
  const exited = new Promise<{ name: string; code: number | null }>((resolve) => {
    notifyExit = resolve;
  });
  let stopping = false;

  const stop = async () => {
    stopping = true;
    let worst = 0;
    await Promise.all(
      [...children.entries()].map(
        ([name, child]) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) {
              worst = Math.max(worst, child.exitCode ?? 1);
              return resolve();
            }
            child.once('exit', (code) => {
              worst = Math.max(worst, code ?? 1);
              out(`[fleet] ${name} exited with code ${code}`);
              resolve();
            });
            child.kill('SIGTERM');
          }),
      ),
    );
    if (redis.server) {
      out('[fleet] stopping redis-server');
      await redis.server.shutdown();
    }
    return worst;
  };

  try {
    for (const service of FLEET) {
      const port = Number(env[service.overrideKey] ?? service.defaultPort);
      // Own process group: Ctrl-C reaches only the launcher, which then stops the apps in order.
      const child = spawn(process.execPath, [join(root, service.main)], {
        cwd: root,
        env: { ...shared, [service.portKey]: String(port) },
        stdio: ['ignore', 'pipe', 'pipe'],
        detached: true,
      });
      children.set(service.name, child);
      for (const stream of [child.stdout, child.stderr]) {
        if (stream) createInterface({ input: stream }).on('line', (line) => out(`[${service.name}] ${line}`));
      }
      child.once('exit', (code) => {
        if (!stopping) notifyExit({ name: service.name, code });
      });
      const url = `http://127.0.0.1:${port}`;
      await waitUntilReady(url, { timeoutMs: 30_000, intervalMs: 200, child }).catch((error: Error) => {
        throw new Error(`${service.name}: ${error.message}`);
      });
      urls[service.name] = url;
    }
  } catch (error) {
    await stop();
    throw error;
  }

  out('');
  out('jobfleet is running:');
  for (const service of FLEET)
    out(`  ${service.name.padEnd(14)} ${service.describe(urls[service.name] ?? '')}`);
  out(`  redis          ${redis.url}${redis.server ? ' (started by pnpm start)' : ''}`);
  if (apiKey)
    out(
      `  API key        ${apiKey}   (development key, scope admin; kept in ${join(dataDir, 'dev-api-key')})`,
    );
  if (dashboardPassword) {
    const where = join(dataDir, 'dev-dashboard-password');
    out(
      `  dashboard      user "dev", password ${dashboardPassword}   (development user, admin; kept in ${where})`,
    );
  }
  out(`  e-mail outbox  ${shared.EMAIL_OUTBOX_DIR}`);
  out(`  reports        ${shared.REPORTS_DIR}`);
  out('Press Ctrl-C to stop.');
  return { urls, apiKey, stop, exited };
}
