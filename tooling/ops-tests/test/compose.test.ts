import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { COMPOSE_FILE, REPO_ROOT } from './support/paths.js';
import { FLEET, SERVICES } from './support/services.js';

/** `docker compose` (v2 plugin) or `docker-compose` (v1, Debian's package), whichever answers. */
function composeCommand(): string[] | undefined {
  for (const command of [['docker', 'compose'], ['docker-compose']]) {
    const [bin = '', ...args] = command;
    const probe = spawnSync(bin, [...args, 'version'], { encoding: 'utf8' });
    if (!probe.error && probe.status === 0) return command;
  }
  return undefined;
}

interface ComposeService {
  image?: string;
  command?: string[] | string;
  build?: { context?: string; dockerfile?: string; args?: Record<string, string> };
  environment?: Record<string, string | null>;
  volumes?: Array<string | { source?: string; target?: string; type?: string }>;
  depends_on?: Record<string, unknown> | string[];
}

interface ComposeConfig {
  services: Record<string, ComposeService>;
  volumes?: Record<string, unknown>;
}

const compose = composeCommand();
if (!compose) {
  console.warn(
    '[ops-tests] docker compose / docker-compose not found: the compose file is not checked (Debian: apt-get install docker-compose; CI should install it)',
  );
}

describe.skipIf(!compose)('docker/compose.yml', () => {
  let parsed: ComposeConfig | undefined;
  // `config` takes a second or two (docker-compose is Python); every test reads the same output.
  const config = (): ComposeConfig => {
    if (parsed) return parsed;
    const [bin = '', ...args] = compose ?? [];
    const result = spawnSync(bin, [...args, '-f', COMPOSE_FILE, 'config'], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
      // Only what the file itself sets: no developer overrides from the environment.
      // The profiles of apps that run only when configured (enabledBy), so that they are checked too.
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '',
        COMPOSE_PROFILES: FLEET.apps
          .filter((app) => app.enabledBy)
          .map((app) => app.name)
          .join(','),
      },
    });
    expect(result.status, `${result.stdout}${result.stderr}`).toBe(0);
    parsed = parse(result.stdout) as ComposeConfig;
    return parsed;
  };
  const mounts = (service: ComposeService | undefined) =>
    (service?.volumes ?? []).map((volume) =>
      typeof volume === 'string'
        ? volume.split(':').slice(0, 2).join(':')
        : `${volume.source}:${volume.target}`,
    );

  it('parses, and builds every app from docker/Dockerfile with its port and Redis', () => {
    const { services } = config();
    for (const { app, portKey, defaultPort } of SERVICES) {
      const service = services[app];
      expect(service, `no service ${app}`).toBeDefined();
      expect(service?.build).toMatchObject({ dockerfile: 'docker/Dockerfile', args: { APP: app } });
      expect(service?.environment).toMatchObject({
        REDIS_URL: 'redis://redis:6379',
        [portKey]: String(defaultPort),
      });
    }
  });

  it('runs Redis with AOF, noeviction and a volume', () => {
    const redis = config().services.redis;
    const command = Array.isArray(redis?.command) ? redis.command.join(' ') : (redis?.command ?? '');
    expect(command).toMatch(/--appendonly yes/);
    expect(command).toMatch(/--maxmemory-policy noeviction/);
    expect(mounts(redis).some((mount) => mount.endsWith(':/data'))).toBe(true);
  });

  it('wires the email worker to the SMTP sink, which has a web UI', () => {
    const { services } = config();
    expect(services['email-worker']?.environment?.SMTP_URL).toBe('smtp://mailpit:1025');
    expect(services.mailpit?.image).toMatch(/^axllent\/mailpit:/);
  });

  it('runs Prometheus with the rules, Grafana with the provisioning, and the Redis exporter', () => {
    const { services } = config();
    expect(mounts(services.prometheus).some((m) => /docker\/prometheus:\/etc\/prometheus$/.test(m))).toBe(
      true,
    );
    const grafana = mounts(services.grafana);
    expect(grafana.some((m) => /docker\/grafana\/provisioning:\/etc\/grafana\/provisioning$/.test(m))).toBe(
      true,
    );
    expect(grafana.some((m) => /docker\/grafana\/dashboards:\/var\/lib\/grafana\/dashboards$/.test(m))).toBe(
      true,
    );
    expect(services['redis-exporter']?.environment?.REDIS_ADDR).toBe('redis://redis:6379');
  });
});
