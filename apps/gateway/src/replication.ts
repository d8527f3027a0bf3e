import { ConfigError, type RedisClient } from '@jobfleet/service-kit';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ReplicationUnconfirmedError } from './errors.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** A 2xx answer of this route waits until `REDIS_MIN_REPLICAS_ACK` replicas have its writes. */
    confirmReplication?: boolean;
  }
}

/** What one `WAIT` round needs: send `WAIT <replicas> <timeoutMs>` and give back how many replicas acknowledged. */
export type WaitCommand = (replicas: number, timeoutMs: number) => Promise<number>;

/** One `WAIT` in flight, and the connection epoch it was sent in. */
interface Round {
  readonly epoch: number;
  readonly acked: Promise<number>;
}

/**
 * Coalesces `WAIT`s on one shared connection. `WAIT` blocks its connection and
 * confirms every write that connection sent before it, so one `WAIT` serves
 * every request whose write had completed when it was sent; a request that
 * asks while a `WAIT` is in flight (its write may have gone out after that
 * `WAIT`) is served by the next one, which is sent when the current one ends.
 * So at most one `WAIT` is in flight and at most one is pending, however many
 * requests wait. (A request whose write was answered while a `WAIT` was in
 * flight was in fact sent before it, as one connection answers in order, but
 * the promise callbacks cannot tell that apart reliably; waiting for the next
 * round costs one more `WAIT` round trip and is always right.)
 *
 * A reconnect in between (a failover) means the write and the `WAIT` may have
 * gone to different servers, so a request whose connection epoch changed is
 * not confirmed.
 */
export class ReplicationBarrier {
  #epoch = 0;
  #inFlight: Round | undefined;
  #next: Promise<Round> | undefined;

  constructor(
    private readonly wait: WaitCommand,
    readonly replicas: number,
    readonly timeoutMs: number,
  ) {}

  /** The connection's epoch: bump it on every close and ready of the connection. */
  get epoch(): number {
    return this.#epoch;
  }

  reconnected(): void {
    this.#epoch += 1;
  }

  /**
   * Resolves `true` once a `WAIT` sent after this call confirms `replicas`
   * replicas, `false` when fewer acknowledged in time, the connection changed
   * since `since` (the epoch before the write was sent), or the `WAIT` failed.
   */
  async confirm(since: number): Promise<boolean> {
    const round = await this.#nextRound();
    if (round.epoch !== since) return false;
    const acked = await round.acked.catch(() => -1);
    return acked >= this.replicas;
  }

  /**
   * The round that starts after every `WAIT` now in flight: sent once that one
   * ends, or (none in flight) a microtask from now, so that the requests asking
   * in the same tick share it.
   */
  #nextRound(): Promise<Round> {
    if (this.#next) return this.#next;
    const before = this.#inFlight?.acked.catch(() => -1) ?? Promise.resolve();
    this.#next = before.then(() => {
      this.#next = undefined;
      return this.#send();
    });
    return this.#next;
  }

  #send(): Round {
    const round: Round = { epoch: this.#epoch, acked: this.wait(this.replicas, this.timeoutMs) };
    this.#inFlight = round;
    const done = () => {
      if (this.#inFlight === round) this.#inFlight = undefined;
    };
    round.acked.then(done, done);
    return round;
  }
}

/** `WAIT` on a standalone or sentinel-managed connection. */
export function waitCommand(redis: RedisClient): WaitCommand {
  return async (replicas, timeoutMs) => Number(await redis.call('WAIT', String(replicas), String(timeoutMs)));
}

const startEpoch = new WeakMap<FastifyRequest, number>();

/**
 * With `REDIS_MIN_REPLICAS_ACK` > 0, routes whose config says
 * `confirmReplication` answer a 2xx only once `WAIT` confirms that many
 * replicas have the request's writes, and 503 `JOBFLEET_REPLICATION_UNCONFIRMED`
 * otherwise (the job may have been written: a retry with the same
 * `Idempotency-Key` replays it and waits again). Redis Cluster is refused: a
 * `WAIT` must go to the connection of the node that took the write.
 */
export function installReplicationBarrier(
  app: FastifyInstance,
  redis: RedisClient,
  settings: { replicas: number; timeoutMs: number },
): ReplicationBarrier | undefined {
  if (settings.replicas <= 0) return undefined;
  if (redis.isCluster) {
    throw new ConfigError([
      'REDIS_MIN_REPLICAS_ACK: not supported with REDIS_CLUSTER_NODES (WAIT would have to go to the node of each job); use it with REDIS_URL or REDIS_SENTINELS, or set it to 0',
    ]);
  }
  const barrier = new ReplicationBarrier(waitCommand(redis), settings.replicas, settings.timeoutMs);
  const bump = () => barrier.reconnected();
  redis.on('close', bump);
  redis.on('ready', bump);
  app.addHook('onClose', async () => {
    redis.off('close', bump);
    redis.off('ready', bump);
  });
  app.addHook('preHandler', async (request) => {
    if (request.routeOptions.config.confirmReplication) startEpoch.set(request, barrier.epoch);
  });
  app.addHook('preSerialization', async (request, reply, payload) => {
    const since = startEpoch.get(request);
    if (since === undefined || reply.statusCode >= 300) return payload;
    if (!(await barrier.confirm(since))) {
      throw new ReplicationUnconfirmedError(settings.replicas, settings.timeoutMs);
    }
    return payload;
  });
  return barrier;
}
