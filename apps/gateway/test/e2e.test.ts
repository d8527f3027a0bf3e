import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { useTestRedis } from '@jobfleet/test-utils';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { cgroupMounts } from '../src/available-cores.js';
import { eventually, inspectQueue, KEY_LIST, SECRETS, welcome } from './helpers.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const main = join(root, 'dist', 'main.js');
const redis = useTestRedis();
const children: ChildProcess[] = [];

beforeAll(async () => {
  // Test what ships: compile src/ to dist/ (the workspace packages are built by turbo's ^build).
  await promisify(execFile)(join(root, 'node_modules', '.bin', 'tsc'), ['-p', 'tsconfig.build.json'], {
    cwd: root,
  });
}, 120_000);

afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
});

/** `cgroup`: a cgroup directory the gateway starts in (moved there before Node starts). */
function startMain(env: Record<string, string>, { cgroup }: { cgroup?: string } = {}) {
  const [command, args] = cgroup
    ? ['/bin/sh', ['-c', 'echo $$ > "$0/cgroup.procs" && exec "$1" "$2"', cgroup, process.execPath, main]]
    : [process.execPath, [main]];
  const child = spawn(command, args, {
    cwd: root,
    env: { PATH: process.env.PATH ?? '', HOST: '127.0.0.1', PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  const lines: string[] = [];
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  // 'close', not 'exit': it comes after stdout and stderr are drained, so every line has been read.
  const exited = once(child, 'close') as Promise<[number | null, NodeJS.Signals | null]>;
  const listening = new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout ?? process.stdin }).on('line', (line) => {
      lines.push(line);
      try {
        const entry = JSON.parse(line) as { msg?: string; url?: string };
        if (entry.msg === 'gateway listening' && entry.url) resolve(entry.url);
      } catch {
        // Not a log line.
      }
    });
    void exited.then(([code]) =>
      reject(new Error(`gateway exited with ${code} before listening:\n${stderr}`)),
    );
  });
  // Tests that expect a refusal never await it.
  listening.catch(() => {});
  return { child, lines, listening, exited, stderr: () => stderr };
}

/**
 * A new cgroup directly under this host's cgroup v1 `cpu` or v2 mount, with a
 * CPU quota of `cores`; `undefined` where none can be made (not root, no
 * such controller).
 */
function cpuLimitedCgroup(cores: number): string | undefined {
  let mountinfo: string;
  try {
    mountinfo = readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return undefined;
  }
  for (const mount of cgroupMounts(mountinfo)) {
    const directory = join(mount.mountPoint, `jobfleet-test-${process.pid}-${Date.now()}`);
    try {
      mkdirSync(directory);
    } catch {
      continue;
    }
    try {
      if (mount.version === 2) writeFileSync(join(directory, 'cpu.max'), `${cores * 100_000} 100000`);
      else {
        writeFileSync(join(directory, 'cpu.cfs_period_us'), '100000');
        writeFileSync(join(directory, 'cpu.cfs_quota_us'), String(cores * 100_000));
      }
      return directory;
    } catch {
      // A v2 mount without the cpu controller has no cpu.max to write.
      rmdirSync(directory);
    }
  }
  return undefined;
}

describe('node dist/main.js', () => {
  it('listens on the address it logs, enqueues over HTTP, and exits 0 on SIGTERM', async () => {
    const gateway = startMain({
      REDIS_URL: redis.url,
      JOBFLEET_PREFIX: redis.prefix,
      GATEWAY_API_KEYS: JSON.stringify(KEY_LIST),
    });
    const url = await gateway.listening;
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    await eventually(async () => ((await fetch(`${url}/health/ready`)).ok ? true : undefined));

    const response = await fetch(`${url}/v1/queues/emails/jobs`, {
      method: 'POST',
      headers: { authorization: `Bearer ${SECRETS.signup}`, 'content-type': 'application/json' },
      body: JSON.stringify(welcome),
    });
    expect(response.status).toBe(202);
    const { id } = (await response.json()) as { id: string };
    const job = await inspectQueue(redis, 'emails').getJob(id);
    expect(job?.data).toEqual(welcome.data);

    const status = await fetch(`${url}/v1/queues/emails/jobs/${id}`, {
      headers: { authorization: `Bearer ${SECRETS.signup}` },
    });
    expect(await status.json()).toMatchObject({ id, state: 'waiting' });
    expect((await fetch(`${url}/health/ready`)).status).toBe(200);

    gateway.child.kill('SIGTERM');
    const [code] = await gateway.exited;
    expect(code, gateway.stderr()).toBe(0);
    expect(
      gateway.lines.some((l) => l.includes('shutdown complete')),
      gateway.lines.join('\n'),
    ).toBe(true);
    expect(gateway.lines.join('\n')).not.toContain(SECRETS.signup);
  });

  it('two gateway processes on one Redis share one rate-limit budget', async () => {
    const env = {
      REDIS_URL: redis.url,
      JOBFLEET_PREFIX: redis.prefix,
      GATEWAY_API_KEYS: JSON.stringify(KEY_LIST),
      // Exact counts: on a loaded machine a lease refresh may take longer than the default 100 ms.
      RATE_LIMIT_COUNT_WAIT_MS: '10s',
    };
    const first = startMain(env);
    const second = startMain(env);
    const urls = await Promise.all([first.listening, second.listening]);
    // Listening comes before the Redis connection is up (requests then get 503): wait for readiness.
    for (const url of urls) {
      await eventually(async () => ((await fetch(`${url}/health/ready`)).ok ? true : undefined));
    }
    const post = (url: string) =>
      fetch(`${url}/v1/queues/emails/jobs`, {
        method: 'POST',
        headers: { authorization: `Bearer ${SECRETS.limited}`, 'content-type': 'application/json' },
        body: JSON.stringify(welcome),
      });
    // The `limited` key may make 3 requests a minute, wherever they land.
    const answers = [];
    for (const url of [urls[0], urls[1], urls[0], urls[1], urls[0]]) answers.push(await post(url ?? ''));
    expect(answers.map((a) => a.status)).toEqual([202, 202, 202, 429, 429]);
    expect(Number(answers[3]?.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(answers[3]?.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(await inspectQueue(redis, 'emails').count()).toBe(3);
    for (const gateway of [first, second]) gateway.child.kill('SIGTERM');
    for (const gateway of [first, second]) expect((await gateway.exited)[0]).toBe(0);
  });

  it('refuses to start without API keys (exit 1, one clear message)', async () => {
    const gateway = startMain({ REDIS_URL: redis.url });
    const [code] = await gateway.exited;
    expect(code).toBe(1);
    expect(gateway.stderr()).toContain('GATEWAY_API_KEYS: no API keys configured');
  });

  it('refuses a bad configuration, naming every bad key (exit 1)', async () => {
    const gateway = startMain({ PORT: 'eighty', GATEWAY_API_KEYS: '[{"id":"a","scopes":["admin"]}]' });
    const [code] = await gateway.exited;
    expect(code).toBe(1);
    expect(gateway.stderr()).toContain('PORT:');
    expect(gateway.stderr()).toContain('GATEWAY_API_KEYS: entry 0 (id "a"): needs "key" or "keySha256"');
  });
});

describe('GATEWAY_WORKERS', () => {
  /** The processes the gateway's primary has forked. */
  const workersOf = (pid: number | undefined): number[] =>
    readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').split(/\s+/).filter(Boolean).map(Number);
  /** A request on a connection of its own: the primary hands each new connection to the next worker. */
  const postAlone = (url: string) =>
    new Promise<number>((resolve, reject) => {
      const body = JSON.stringify(welcome);
      const req = httpRequest(
        `${url}/v1/queues/emails/jobs`,
        {
          method: 'POST',
          agent: false,
          headers: {
            authorization: `Bearer ${SECRETS.signup}`,
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(body),
          },
        },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  const logged = (gateway: ReturnType<typeof startMain>, msg: string) =>
    gateway.lines.filter((line) => line.includes(`"msg":"${msg}"`)).map((line) => JSON.parse(line));

  it('runs n processes on one port: all answer, /metrics sums them, one reads the queue gauges, a dead one is replaced, SIGTERM stops all (exit 0)', async () => {
    const gateway = startMain({
      REDIS_URL: redis.url,
      JOBFLEET_PREFIX: redis.prefix,
      GATEWAY_API_KEYS: JSON.stringify(KEY_LIST),
      GATEWAY_WORKERS: '2',
    });
    const url = await gateway.listening;
    await eventually(
      async () => (logged(gateway, 'gateway listening').length === 2 ? true : undefined),
      30_000,
    );
    const first = workersOf(gateway.child.pid);
    expect(first).toHaveLength(2);
    await eventually(async () => ((await fetch(`${url}/health/ready`)).ok ? true : undefined));

    const statuses = [];
    for (let i = 0; i < 10; i++) statuses.push(await postAlone(url));
    expect(statuses).toEqual(Array(10).fill(202));
    await eventually(async () => {
      const served = new Set(logged(gateway, 'job enqueued').map((line) => line.worker));
      return served.size === 2 ? served : undefined;
    });

    // Whichever worker takes the scrape: the enqueues of both, and the queue counted once.
    for (let i = 0; i < 3; i++) {
      const metrics = await (await fetch(`${url}/metrics`)).text();
      expect(metrics).toMatch(
        /^jobfleet_jobs_enqueued_total\{queue="emails",job_name="welcome",client="signup-service",result="accepted"\} 10$/m,
      );
      expect(metrics).toMatch(/^jobfleet_queue_jobs\{queue="emails",state="waiting"\} 10$/m);
    }

    // One worker reads the queue gauges for every scrape, not each of them.
    const readers = () => logged(gateway, 'this worker reads the queue gauges').map((line) => line.pid);
    await eventually(async () => (readers().length > 0 ? true : undefined));
    expect(readers()).toHaveLength(1);
    const reader = readers()[0] as number;
    expect(first).toContain(reader);

    // Its death hands the gauges to the worker still serving, before the replacement is up.
    process.kill(reader, 'SIGKILL');
    await eventually(async () => (readers().length === 2 ? true : undefined), 30_000);
    const survivor = first.find((pid) => pid !== reader);
    expect(readers()[1]).toBe(survivor);
    // Scrapes while the replacement starts are answered at once by the survivor, gauges included;
    // once it listens, the gauges are still the survivor's alone.
    const scrapes: { status: number; ms: number; gauge: boolean }[] = [];
    await eventually(async () => {
      const started = performance.now();
      const scrape = await fetch(`${url}/metrics`);
      const text = await scrape.text();
      scrapes.push({
        status: scrape.status,
        ms: performance.now() - started,
        gauge: /^jobfleet_queue_jobs\{queue="emails",state="waiting"\} 10$/m.test(text),
      });
      return logged(gateway, 'gateway listening').length === 3 ? true : undefined;
    }, 30_000);
    for (const scrape of scrapes) expect(scrape).toMatchObject({ status: 200, gauge: true });
    expect(Math.max(...scrapes.map((scrape) => scrape.ms))).toBeLessThan(2_000);
    expect(logged(gateway, 'gateway worker died')).toHaveLength(1);
    const second = workersOf(gateway.child.pid);
    expect(second).toHaveLength(2);
    expect(second).not.toContain(reader);
    expect(readers()).toHaveLength(2);
    await eventually(async () =>
      (await postAlone(url)) === 202 && (await postAlone(url)) === 202 ? true : undefined,
    );

    gateway.child.kill('SIGTERM');
    const [code] = await gateway.exited;
    expect(code, gateway.stderr()).toBe(0);
    expect(logged(gateway, 'shutdown complete')).toHaveLength(2);
    expect(logged(gateway, 'gateway workers stopped')).toHaveLength(1);
    for (const pid of second) expect(existsSync(`/proc/${pid}`)).toBe(false);
  }, 90_000);

  it("auto: one process per core its cgroup's CPU quota allows, not one per CPU", async (context) => {
    if (availableParallelism() < 2) return context.skip('one CPU: auto would make one process anyway');
    const cgroup = cpuLimitedCgroup(1);
    if (!cgroup) return context.skip('no cgroup cpu controller this user may write (run as root on Linux)');
    const gateway = startMain(
      {
        REDIS_URL: redis.url,
        JOBFLEET_PREFIX: redis.prefix,
        GATEWAY_API_KEYS: JSON.stringify(KEY_LIST),
        GATEWAY_WORKERS: 'auto',
      },
      { cgroup },
    );
    try {
      const url = await gateway.listening;
      expect(logged(gateway, 'GATEWAY_WORKERS=auto: one process per available core')).toEqual([
        expect.objectContaining({ workers: 1, cpus: availableParallelism(), cpu_quota: 1 }),
      ]);
      // One process serving, no primary with workers under it.
      expect(workersOf(gateway.child.pid)).toEqual([]);
      await eventually(async () => ((await fetch(`${url}/health/ready`)).ok ? true : undefined), 30_000);
      expect(await postAlone(url)).toBe(202);
      gateway.child.kill('SIGTERM');
      const [code] = await gateway.exited;
      expect(code, gateway.stderr()).toBe(0);
    } finally {
      // A cgroup goes once the processes in it are gone (a killed primary's workers follow it shortly).
      if (gateway.child.exitCode === null && gateway.child.signalCode === null) {
        gateway.child.kill('SIGKILL');
        await gateway.exited;
      }
      await eventually(async () => {
        try {
          rmdirSync(cgroup);
          return true;
        } catch {
          return undefined;
        }
      }, 10_000);
    }
  }, 60_000);

  it('stops with exit 1 when its workers cannot start, saying why', async () => {
    const gateway = startMain({ REDIS_URL: redis.url, GATEWAY_WORKERS: '2' });
    const [code] = await gateway.exited;
    expect(code).toBe(1);
    expect(gateway.stderr()).toContain('GATEWAY_API_KEYS: no API keys configured');
    expect(logged(gateway, 'gateway worker failed to start').length).toBeGreaterThan(0);
  }, 60_000);

  it('refuses a bad GATEWAY_WORKERS', async () => {
    const gateway = startMain({ GATEWAY_WORKERS: 'many', GATEWAY_API_KEYS: JSON.stringify(KEY_LIST) });
    const [code] = await gateway.exited;
    expect(code).toBe(1);
    expect(gateway.stderr()).toContain('GATEWAY_WORKERS: must be a number from 1 to 64, or auto');
  });
});
