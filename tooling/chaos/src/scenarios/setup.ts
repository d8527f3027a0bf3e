import type { Queue } from 'bullmq';
import type { ClientOptions } from '../client.js';
import type { App, ChaosRedis, Fleet } from '../fleet.js';
import type { Profile } from '../profile.js';
import type { ScenarioResult } from '../result.js';
import { type SmtpSink, startSmtpSink } from '../smtp-sink.js';

/** What a scenario gets: the profile, and a fleet that the suite closes after it, however it ended. */
export interface ScenarioContext {
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
  return {
    redis,
    sink,
    gateway,
    worker,
    emails: fleet.queue(redis, 'emails'),
    workerEnv,
    startWorker,
    client: () => ({
      gatewayUrl: gateway.url,
      deadline: performance.now() + profile.clientDeadlineMs,
      retryAfterCapMs: profile.retryAfterCapMs,
    }),
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
