import type { Queue } from 'bullmq';
import { type ClientOptions, keysWhile, type Load, startLoad, type Tally } from '../client.js';
import type { App, ChaosRedis, Fleet } from '../fleet.js';
import type { Profile } from '../profile.js';
import { type ScenarioResult, type SettleOptions, settle } from '../result.js';
import { type SmtpSink, startSmtpSink } from '../smtp-sink.js';

/** What a scenario gets: the profile, and a fleet that the suite closes after it, however it ended. */
export interface ScenarioContext {
  /** The scenario's name: its row of the table. */
  readonly name: string;
  readonly profile: Profile;
  readonly fleet: Fleet;
  /** A progress line on standard error. */
  log(message: string): void;
}

export interface Scenario {
  readonly name: string;
  /** What it does, for `--list` and the README. */
  readonly description: string;
  /** Part of the short profile. */
  readonly ci: boolean;
  run(context: ScenarioContext): Promise<ScenarioResult>;
}

/** The usual cast: Redis, the SMTP sink, the gateway, an e-mail worker and the DLQ processor. */
export interface Cast {
  readonly redis: ChaosRedis;
  readonly sink: SmtpSink;
  readonly gateway: App;
  readonly worker: App;
  readonly emails: Queue;
  /** The worker's environment, to start another like it. */
  readonly workerEnv: Record<string, string>;
  /** Starts another e-mail worker like the first (after a kill or a graceful stop). */
  startWorker(env?: Record<string, string>, redisUrl?: string): Promise<App>;
  /** The clients' options: this gateway, the profile's deadline from now. */
  client(): ClientOptions;
  /** Clients sending `keys` to this gateway (see {@link startLoad}). */
  load(keys: Iterable<string>, pace: Pace): Load;
  /** Clients sending keys `<prefix>-<n>` to this gateway until {@link Stream.stop}. */
  stream(prefix: string, pace: Pace): Stream;
  /**
   * Two rounds of a rolling deploy: once `ready(round)` resolves, SIGTERM to the worker, wait for its
   * exit, start a new one. A failure per worker that did not exit 0; when the last SIGTERM was sent.
   */
  gracefulRestarts(
    ready: (round: number) => Promise<unknown>,
    stopped: (round: number) => string,
  ): Promise<{ lastStop: number; failures: string[] }>;
  /**
   * The scenario's row: {@link settle} on this queue and sink, with the scenario's own failed
   * checks listed after those settle found.
   */
  settle(tally: Tally, own?: OwnResult): Promise<ScenarioResult>;
}

/** How the clients of a load send: `concurrency` at a time, each `pauseMs` after its last answer. */
export interface Pace {
  readonly concurrency: number;
  readonly pauseMs: number;
}

export interface Stream extends Load {
  /** No new key from now on; resolves once every client has finished its last one. */
  stop(): Promise<void>;
}

/** What a scenario adds to its row. */
export interface OwnResult extends Pick<SettleOptions, 'recoveryMs' | 'faultAt'> {
  readonly failures?: readonly string[];
}

export interface CastOptions {
  readonly appendfsync?: 'everysec' | 'always';
  /** The e-mail worker's environment beyond REDIS_URL and SMTP. */
  readonly workerEnv?: Record<string, string>;
  /** The Redis URL the first worker uses (a proxy's), when not Redis itself. */
  readonly workerRedisUrl?: (redis: ChaosRedis) => Promise<string>;
  /** Also run the DLQ processor (scenarios where jobs may fail for good). */
  readonly dlq?: boolean;
}

export async function startCast(context: ScenarioContext, options: CastOptions = {}): Promise<Cast> {
  const { fleet, profile } = context;
  const redis = await fleet.redis(options.appendfsync ? { appendfsync: options.appendfsync } : {});
  const sink = await startSmtpSink();
  fleet.defer(() => sink.close());
  const workerEnv = {
    SMTP_URL: sink.url,
    SMTP_STARTTLS: 'off',
    // Shorter than the 30 s defaults, so that stalled-job recovery (a job whose worker died, or whose
    // fetch reply was lost with its connection) shows within a scenario's bounds.
    WORKER_LOCK_DURATION_MS: '5000',
    WORKER_STALLED_INTERVAL_MS: '2000',
    ...options.workerEnv,
  };
  const startWorker = (env: Record<string, string> = {}, redisUrl = redis.url) =>
    fleet.start('email-worker', redisUrl, { ...workerEnv, ...env });
  const [gateway, worker] = await Promise.all([
    fleet.start('gateway', redis.url),
    options.workerRedisUrl
      ? options.workerRedisUrl(redis).then((url) => startWorker({}, url))
      : startWorker(),
    ...(options.dlq ? [fleet.start('dlq-processor', redis.url)] : []),
  ]);
  if (!gateway || !worker) throw new Error('the gateway or the worker did not start');
  const emails = fleet.queue(redis, 'emails');
  const client = () => ({
    gatewayUrl: gateway.url,
    deadline: performance.now() + profile.clientDeadlineMs,
    retryAfterCapMs: profile.retryAfterCapMs,
  });
  const load = (keys: Iterable<string>, pace: Pace) => startLoad(keys, { ...client(), ...pace });
  return {
    redis,
    sink,
    gateway,
    worker,
    emails,
    workerEnv,
    startWorker,
    client,
    load,
    stream(prefix, pace) {
      let running = true;
      const started = load(
        keysWhile(prefix, () => running, 100_000),
        pace,
      );
      return {
        ...started,
        stop: () => {
          running = false;
          return started.done;
        },
      };
    },
    async gracefulRestarts(ready, stopped) {
      const failures: string[] = [];
      let current = worker;
      let lastStop = 0;
      for (let round = 1; round <= 2; round++) {
        await ready(round);
        lastStop = performance.now();
        await current.stop();
        const exit = await current.process.exited;
        if (exit.code !== 0) failures.push(`worker of round ${round} exited with ${JSON.stringify(exit)}`);
        context.log(stopped(round));
        current = await startWorker();
      }
      return { lastStop, failures };
    },
    async settle(tally, own = {}) {
      const result = await settle({
        scenario: context.name,
        log: context.log,
        tally,
        sink,
        emails,
        drainMs: profile.drainMs,
        crashes: fleet.crashes,
        recoveryMs: own.recoveryMs,
        faultAt: own.faultAt,
      });
      result.failures.push(...(own.failures ?? []));
      return result;
    },
  };
}

/** `GET <url>/health/ready`'s status, or 0 when it does not answer within a second. */
export async function readiness(url: string): Promise<number> {
  try {
    const response = await fetch(`${url}/health/ready`, { signal: AbortSignal.timeout(1_000) });
    await response.body?.cancel();
    return response.status;
  } catch {
    return 0;
  }
}
