import { emails } from '@jobfleet/queue-contracts';
import { createRedisConnection } from '@jobfleet/service-kit';
import { Queue } from 'bullmq';
import {
  BENCH_SECRET,
  GATEWAY_MAIN,
  GATEWAY_NODE_OPTIONS,
  JOB,
  percentile,
  RATE_LIMIT,
  type Run,
  type Server,
  SINGLE_PATH,
  serve,
  startServer,
} from './gateway-throughput.js';
import { formatRate, median } from './stats.js';

export interface ReplicationCostOptions {
  /** Single-job requests per measured run. */
  jobs: number;
  /** Interleaved rounds; medians are reported. */
  rounds: number;
  /** Keep-alive connections (requests in flight) of each run. */
  connections: number;
}

/** One setting's figures: medians over the rounds. */
export interface SettingFigures {
  rate: number;
  p50: number;
  p99: number;
}

export interface ReplicationCostResult {
  jobs: number;
  rounds: number;
  connections: number;
  ack0: SettingFigures;
  ack1: SettingFigures;
  /** Per round: [ack0, ack1]. */
  perRound: Array<[SettingFigures, SettingFigures]>;
  /** ack1 / ack0 throughput, paired per round, median. */
  rateRatio: number;
  /** ack1 − ack0 p50 and p99 (ms), paired per round, medians. */
  p50Delta: number;
  p99Delta: number;
}

const figuresOf = (run: Run): SettingFigures => ({
  rate: run.rate,
  p50: percentile(run.latencies, 50),
  p99: percentile(run.latencies, 99),
});

/**
 * The latency cost of `REDIS_MIN_REPLICAS_ACK=1` against `0`: two gateways (as
 * a user runs them, default log level, an API key with a rate limit) on the
 * same master, which has one replica (`redisUrl`), each sent single-job POSTs
 * over `connections` keep-alive connections; in interleaved rounds that
 * rotate which goes first, paired per round.
 */
export async function replicationCost(
  redisUrl: string,
  options: ReplicationCostOptions,
): Promise<ReplicationCostResult> {
  const prefix = `bench-repl-${Date.now().toString(36)}`;
  const keys = [{ id: 'bench', key: BENCH_SECRET, scopes: ['emails:enqueue'], rateLimit: RATE_LIMIT }];
  const env = (ack: number) => ({
    REDIS_URL: redisUrl,
    JOBFLEET_PREFIX: `${prefix}-${ack}`,
    GATEWAY_API_KEYS: JSON.stringify(keys),
    REDIS_MIN_REPLICAS_ACK: String(ack),
  });
  const servers: Server[] = [];
  const connection = createRedisConnection({ url: redisUrl, flavour: 'producer', name: 'bench-repl' });
  const views = [0, 1].map((ack) => new Queue(emails.name, { connection, prefix: `${prefix}-${ack}` }));
  const clean = () => Promise.all(views.map((queue) => queue.obliterate({ force: true })));
  try {
    for (const ack of [0, 1]) {
      servers.push(
        await startServer(
          `the gateway (REDIS_MIN_REPLICAS_ACK=${ack})`,
          GATEWAY_MAIN,
          env(ack),
          GATEWAY_NODE_OPTIONS,
          options.connections,
        ),
      );
    }
    const [ack0, ack1] = servers as [Server, Server];
    const run = (server: Server, jobs: number) => serve(server, SINGLE_PATH, JOB, jobs, options.connections);
    const warmup = Math.min(1_000, options.jobs);
    await run(ack0, warmup);
    await run(ack1, warmup);
    await clean();
    const perRound: Array<[SettingFigures, SettingFigures]> = [];
    for (let round = 0; round < options.rounds; round++) {
      const order = round % 2 === 0 ? [ack0, ack1] : [ack1, ack0];
      const runs = new Map<Server, Run>();
      for (const server of order) {
        runs.set(server, await run(server, options.jobs));
        await clean();
      }
      perRound.push([figuresOf(runs.get(ack0) as Run), figuresOf(runs.get(ack1) as Run)]);
    }
    const med = (pick: (pair: [SettingFigures, SettingFigures]) => number) => median(perRound.map(pick));
    return {
      jobs: options.jobs,
      rounds: options.rounds,
      connections: options.connections,
      ack0: { rate: med(([a]) => a.rate), p50: med(([a]) => a.p50), p99: med(([a]) => a.p99) },
      ack1: { rate: med(([, b]) => b.rate), p50: med(([, b]) => b.p50), p99: med(([, b]) => b.p99) },
      perRound,
      rateRatio: med(([a, b]) => b.rate / a.rate),
      p50Delta: med(([a, b]) => b.p50 - a.p50),
      p99Delta: med(([a, b]) => b.p99 - a.p99),
    };
  } finally {
    await clean().catch(() => {});
    await Promise.all(views.map((queue) => queue.close()));
    connection.disconnect();
    await Promise.all(servers.map((server) => server.stop()));
  }
}

const ms = (value: number) => `${value.toFixed(2)} ms`;
const signed = (value: number) => `${value >= 0 ? '+' : ''}${value.toFixed(2)} ms`;

/** The result as `pnpm bench` prints it. */
export function describeReplicationCost(result: ReplicationCostResult): string {
  const row = (cells: string[]) => `  ${cells.map((cell, i) => cell.padStart(i === 0 ? 5 : 13)).join(' ')}`;
  return [
    `gateway POST /jobs, REDIS_MIN_REPLICAS_ACK=1 vs 0, a master with one replica (localhost), ` +
      `${result.jobs} jobs per run, ${result.connections} keep-alive connection(s), ${result.rounds} interleaved rounds`,
    row(['round', 'ack0 jobs/s', 'ack1 jobs/s', 'ack0 p50', 'ack1 p50', 'ack0 p99', 'ack1 p99']),
    ...result.perRound.map(([a, b], i) =>
      row([
        String(i + 1),
        Math.round(a.rate).toLocaleString('en-US'),
        Math.round(b.rate).toLocaleString('en-US'),
        ms(a.p50),
        ms(b.p50),
        ms(a.p99),
        ms(b.p99),
      ]),
    ),
    '  medians over rounds:',
    `  REDIS_MIN_REPLICAS_ACK=0     ${formatRate(result.ack0.rate).padStart(15)}   p50 ${ms(result.ack0.p50)}, p99 ${ms(result.ack0.p99)}`,
    `  REDIS_MIN_REPLICAS_ACK=1     ${formatRate(result.ack1.rate).padStart(15)}   p50 ${ms(result.ack1.p50)}, p99 ${ms(result.ack1.p99)}`,
    `  ack1/ack0 throughput         ${result.rateRatio.toFixed(2)}; latency cost p50 ${signed(result.p50Delta)}, p99 ${signed(result.p99Delta)}`,
  ].join('\n');
}
