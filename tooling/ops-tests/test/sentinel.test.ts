/**
 * The built gateway, e-mail worker and DLQ processor on Sentinel-managed Redis
 * (a master, a replica, three sentinels, all real): `SENTINEL FAILOVER` and a
 * `kill -9` of the master while jobs stream in. Every process must follow the
 * master without a restart; with `REDIS_MIN_REPLICAS_ACK=1` no job answered
 * 202 may be lost (without it, the test only reports how many were: the old
 * master takes writes until the sentinels demote it).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import {
  freePort,
  type RedisSentinelSetup,
  type ServiceProcess,
  spawnService,
  startRedisSentinel,
  waitUntilReady,
} from '@jobfleet/test-utils';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isBuilt, mainOf, SERVICES, type ServiceSpec } from './support/services.js';
import { type SmtpSink, startSmtpSink } from './support/smtp-sink.js';

const PREFIX = 'sentinel';
const APPS = ['gateway', 'email-worker', 'dlq-processor'] as const;
const specs = APPS.map((app) => SERVICES.find((spec) => spec.app === app));
const runnable = specs.every((spec): spec is ServiceSpec => spec !== undefined && isBuilt(spec));
/** How long every process may take to work against the new master. */
const RECONNECT_BOUND_MS = 10_000;

interface App {
  readonly name: string;
  readonly proc: ServiceProcess;
  readonly url: string;
  readonly pid: number;
}

interface Answer {
  status: number;
  /** The job's id, unique across the run (a custom `jobId`), so a lost job cannot hide behind a reused id. */
  id: string;
  code?: string;
  /** When the answer came, `performance.now()`. */
  at: number;
}

/** POSTs welcome e-mails with a few requests in flight until stopped; every answer is kept. */
function streamJobs(gatewayUrl: string, tag: string, inFlight = 3) {
  const answers: Answer[] = [];
  let running = true;
  let sent = 0;
  const one = async () => {
    const n = sent++;
    const id = `${tag}-${n}`;
    const body = {
      name: 'welcome',
      data: { userId: n, to: `user-${n}@example.com`, name: `User ${n}` },
      options: { jobId: id },
    };
    try {
      const response = await fetch(`${gatewayUrl}/v1/queues/emails/jobs`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(15_000),
      });
      const json = (await response.json()) as { code?: string };
      answers.push({
        status: response.status,
        id,
        ...(json.code ? { code: json.code } : {}),
        at: performance.now(),
      });
    } catch (error) {
      answers.push({ status: 0, id, code: (error as Error).message, at: performance.now() });
    }
  };
  const loops = Array.from({ length: inFlight }, async () => {
    while (running) {
      await one();
      // A steady stream, not a flood: two cores also run Redis, three sentinels and the apps.
      await delay(5);
    }
  });
  return {
    answers,
    accepted: () => answers.filter((a) => a.status === 202),
    async stop() {
      running = false;
      await Promise.all(loops);
      return answers;
    },
  };
}

/** 202, or an answer the README tells clients to retry: 503, or 504 `JOBFLEET_OUTCOME_UNKNOWN`. */
const isRetryAnswer = (a: Answer): boolean =>
  a.status === 202 || a.status === 503 || (a.status === 504 && a.code === 'JOBFLEET_OUTCOME_UNKNOWN');

/** Counts answers by status and problem code, for the log. */
function tally(answers: readonly Answer[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const a of answers) {
    const key = `${a.status} ${a.code ?? ''}`.trim();
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return counts;
}

/** Resolves once `check` holds; polls, since the processes announce nothing the test can await. */
async function eventually(what: string, timeoutMs: number, check: () => Promise<boolean>): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if (await check().catch(() => false)) return;
    if (performance.now() > deadline) throw new Error(`not within ${timeoutMs} ms: ${what}`);
    await delay(50);
  }
}

const ready = (app: App) =>
  fetch(`${app.url}/health/ready`, { signal: AbortSignal.timeout(2_000) }).then((r) => r.status === 200);

describe.skipIf(!runnable)('Sentinel failover with the built apps', () => {
  let setup: RedisSentinelSetup;
  let smtp: SmtpSink;
  let dataDir: string;
  const apps: App[] = [];

  const start = async (spec: ServiceSpec, env: Record<string, string> = {}): Promise<App> => {
    const port = await freePort();
    const context = { redisUrl: '', prefix: PREFIX, dataDir, smtpUrl: smtp.url };
    const proc = spawnService({
      main: mainOf(spec),
      cwd: dataDir,
      name: spec.app,
      env: {
        REDIS_SENTINELS: setup.sentinelsEnv,
        REDIS_SENTINEL_NAME: setup.name,
        JOBFLEET_PREFIX: PREFIX,
        HOST: '127.0.0.1',
        LOG_LEVEL: 'warn',
        [spec.portKey]: String(port),
        ...spec.env?.(context),
        // The stream is one client; its budget is not what is tested.
        ...(spec.app === 'gateway' ? { RATE_LIMIT_MAX: '1000000' } : {}),
        // A job that was active on the old master is recovered in seconds, not a minute.
        ...(spec.portKey === 'METRICS_PORT'
          ? {
              WORKER_LOCK_DURATION_MS: '3000',
              WORKER_STALLED_INTERVAL_MS: '1000',
              WORKER_MAX_STALLED_COUNT: '5',
            }
          : {}),
        ...env,
      },
    });
    const url = `http://127.0.0.1:${port}`;
    await waitUntilReady(url, {
      child: proc.child,
      output: () => `${proc.logs.map((l) => JSON.stringify(l)).join('\n')}\n${proc.stderr()}`,
    });
    const app = { name: spec.app, proc, url, pid: proc.child.pid ?? -1 };
    apps.push(app);
    return app;
  };

  /** The e-mail queue read straight from one server (not through the sentinels). */
  const queueOn = (port: number) => {
    const connection = new Redis({ host: '127.0.0.1', port, maxRetriesPerRequest: 1 });
    connection.on('error', () => {});
    const queue = new Queue('emails', { connection, prefix: PREFIX });
    return {
      queue,
      async close() {
        await queue.close();
        connection.disconnect();
      },
    };
  };

  /** The accepted jobs the server at `port` does not have. */
  const missingOn = async (port: number, accepted: readonly Answer[]) => {
    const { queue, close } = queueOn(port);
    try {
      const states = await Promise.all(
        accepted.map(async (a) => [a.id, await queue.getJobState(a.id)] as const),
      );
      return states.filter(([, state]) => state === 'unknown').map(([id]) => id);
    } finally {
      await close();
    }
  };

  /** Resolves once the server at `port` shows every accepted job completed. */
  const allCompletedOn = async (port: number, accepted: readonly Answer[], timeoutMs = 60_000) => {
    const { queue, close } = queueOn(port);
    try {
      let pending: string[] = [];
      await eventually('every accepted job is processed', timeoutMs, async () => {
        const states = await Promise.all(
          accepted.map(async (a) => [a.id, await queue.getJobState(a.id)] as const),
        );
        pending = states.filter(([, state]) => state !== 'completed').map(([id, state]) => `${id}: ${state}`);
        return pending.length === 0;
      }).catch((error: Error) => {
        throw new Error(`${error.message}; not completed: ${pending.slice(0, 20).join(', ')}`);
      });
    } finally {
      await close();
    }
  };

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'jobfleet-sentinel-ops-'));
    [setup, smtp] = await Promise.all([startRedisSentinel({ name: 'jobfleet-ops' }), startSmtpSink()]);
  }, 90_000);

  afterAll(async () => {
    await Promise.all(apps.map((app) => app.proc.stop()));
    await smtp?.close();
    await setup?.stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it('SENTINEL FAILOVER during a stream: every process works against the new master within 10 s, same PIDs; with REDIS_MIN_REPLICAS_ACK=1 no job answered 202 is lost', {
    timeout: 150_000,
  }, async () => {
    const [gatewaySpec, workerSpec, dlqSpec] = specs as [ServiceSpec, ServiceSpec, ServiceSpec];
    const [loose, safe, worker, dlq] = await Promise.all([
      start(gatewaySpec),
      start(gatewaySpec, { REDIS_MIN_REPLICAS_ACK: '1' }),
      start(workerSpec),
      start(dlqSpec),
    ]);
    const processes = [loose, safe, worker, dlq];
    const looseStream = streamJobs(loose.url, 'loose');
    const safeStream = streamJobs(safe.url, 'safe');
    await eventually('20 jobs accepted by each gateway before the failover', 30_000, async () =>
      [looseStream, safeStream].every((stream) => stream.accepted().length >= 20),
    );

    const before = await setup.currentMaster();
    const failoverAt = performance.now();
    const after = await setup.failover();
    expect(after.port).not.toBe(before.port);
    const promotedAt = performance.now();

    // Working against the new master, seen from it: a job answered 202 after the promotion is there, processed.
    const { queue: onNewMaster, close } = queueOn(after.port);
    try {
      await eventually(
        'a job posted after the failover is in the new master and processed',
        RECONNECT_BOUND_MS,
        async () => {
          const fresh = [...looseStream.accepted(), ...safeStream.accepted()].filter(
            (a) => a.at > promotedAt,
          );
          const states = await Promise.all(fresh.map((a) => onNewMaster.getJobState(a.id)));
          return states.includes('completed');
        },
      );
    } finally {
      await close();
    }
    await eventually('every process is ready', RECONNECT_BOUND_MS, async () =>
      (await Promise.all(processes.map(ready))).every(Boolean),
    );
    // Every process holds its connections on the new master; the old one, now a replica, keeps none of them.
    const names = async (port: number) => {
      const client = new Redis({ host: '127.0.0.1', port });
      try {
        return ((await client.client('LIST')) as string)
          .split('\n')
          .map((line) => /\bname=(\S*)/.exec(line)?.[1] ?? '');
      } finally {
        client.disconnect();
      }
    };
    await eventually('every process is connected to the new master only', RECONNECT_BOUND_MS, async () => {
      const [onNew, onOld] = await Promise.all([names(after.port), names(before.port)]);
      return (
        APPS.every((app) => onNew.some((name) => name.includes(app))) &&
        !onOld.some((name) => APPS.some((app) => name.includes(app)))
      );
    });
    const recoveredMs = performance.now() - promotedAt;

    // Until the replica is back (the demoted master), the REDIS_MIN_REPLICAS_ACK=1 gateway refuses; then it accepts again.
    await setup.waitForReplicas(1);
    const resyncedAt = performance.now();
    await eventually('202s again from the REDIS_MIN_REPLICAS_ACK=1 gateway', 20_000, async () =>
      safeStream.accepted().some((a) => a.at > resyncedAt),
    );
    const [looseAnswers, safeAnswers] = await Promise.all([looseStream.stop(), safeStream.stop()]);

    const lostLoose = await missingOn(after.port, looseStream.accepted());
    const lostSafe = await missingOn(after.port, safeStream.accepted());
    console.info(
      `[sentinel] SENTINEL FAILOVER: promoted after ${Math.round(promotedAt - failoverAt)} ms; every process on the new master ${Math.round(recoveredMs)} ms after that. REDIS_MIN_REPLICAS_ACK=0: ${JSON.stringify(tally(looseAnswers))}, ${lostLoose.length} accepted jobs lost; REDIS_MIN_REPLICAS_ACK=1: ${JSON.stringify(tally(safeAnswers))}, ${lostSafe.length} lost`,
    );
    expect(recoveredMs).toBeLessThan(RECONNECT_BOUND_MS);
    for (const app of processes) {
      expect(app.proc.child.exitCode, `${app.name} still runs`).toBeNull();
      expect(app.proc.child.pid, `${app.name} was not restarted`).toBe(app.pid);
    }
    // Refusals during the switch are the documented retry answers, never 500s: 503, or 504
    // JOBFLEET_OUTCOME_UNKNOWN for a write the switch cut off before its reply (not sent again on
    // the new master, where it could run a second time).
    expect([...looseAnswers, ...safeAnswers].filter((a) => !isRetryAnswer(a))).toEqual([]);
    expect(lostSafe).toEqual([]);
    // What is there gets processed, by the same worker process.
    const kept = [...looseStream.accepted(), ...safeStream.accepted()].filter(
      (a) => !lostLoose.includes(a.id),
    );
    await allCompletedOn(after.port, kept);
  });

  it('REDIS_MIN_REPLICAS_ACK=1: kill -9 of the master during a stream loses no job answered 202; the rest are 503 (or 504 outcome unknown)', {
    timeout: 150_000,
  }, async () => {
    await setup.waitForReplicas(1);
    const gateway = await start(specs[0] as ServiceSpec, { REDIS_MIN_REPLICAS_ACK: '1' });
    const stream = streamJobs(gateway.url, 'kill');
    await eventually('20 jobs accepted before the kill', 30_000, async () => stream.accepted().length >= 20);

    const { master, server } = await setup.killMaster();
    const killedAt = performance.now();
    const promoted = await setup.waitForNewMaster(master);
    const promotedAt = performance.now();
    // The new master has no replica now: nothing can be confirmed, so the gateway refuses.
    await eventually('a 503 JOBFLEET_REPLICATION_UNCONFIRMED after the promotion', 10_000, async () =>
      stream.answers.some((a) => a.at > promotedAt && a.code === 'JOBFLEET_REPLICATION_UNCONFIRMED'),
    );
    // The old master comes back empty and becomes the new master's replica: 202s again.
    await server.start();
    await setup.waitForReplicas(1);
    const resyncedAt = performance.now();
    await eventually('202s again once a replica is back', 20_000, async () =>
      stream.accepted().some((a) => a.at > resyncedAt),
    );
    const answers = await stream.stop();
    const accepted = stream.accepted();
    const lost = await missingOn(promoted.port, accepted);
    console.info(
      `[sentinel] kill -9 with REDIS_MIN_REPLICAS_ACK=1: promoted after ${Math.round(promotedAt - killedAt)} ms; answers ${JSON.stringify(tally(answers))}; ${lost.length} accepted jobs lost`,
    );
    expect(answers.filter((a) => !isRetryAnswer(a))).toEqual([]);
    expect(answers.filter((a) => a.status === 503).length).toBeGreaterThan(0);
    expect(gateway.proc.child.pid).toBe(gateway.pid);
    expect(lost).toEqual([]);
    await allCompletedOn(promoted.port, accepted);
  });
});
