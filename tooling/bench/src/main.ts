import { exitOnConfigError } from '@jobfleet/service-kit';
import { startRedisServer } from '@jobfleet/test-utils';
import { Redis } from 'ioredis';
import { describeEmailThroughput, emailThroughput } from './email-throughput.js';
import { describeGatewayThroughput, gatewayThroughput } from './gateway-throughput.js';
import { describeMemoryRun, memoryRun } from './memory-run.js';
import { openRedisTarget } from './redis-target.js';
import { describeReplicationCost, replicationCost } from './replication-cost.js';
import { describeReportThroughput, reportThroughput } from './report-throughput.js';
import { describeThroughput, runtimeThroughput } from './runtime-throughput.js';

/**
 * `pnpm bench`: throughput as ratios against the raw library measured in the
 * same run, in interleaved rounds. Runs against BENCH_REDIS_URL, or the Redis
 * Cluster or Sentinel setup that REDIS_CLUSTER_NODES or REDIS_SENTINELS (with
 * their keys, as every jobfleet process reads them) select, else its own
 * redis-server; BENCH_ONLY=runtime,gateway,email,report,replication picks parts.
 * BENCH_GATEWAY_NODE_FLAGS passes Node flags to the gateway process after
 * fleet.json's `nodeOptions` (profiling);
 * BENCH_GATEWAY_BASELINE=<another build's apps/gateway/dist/main.js> measures that
 * gateway too, in the same single-job and batch rounds (before/after a change),
 * with fleet.json's Node options or BENCH_GATEWAY_BASELINE_NODE_OPTIONS
 * (set and empty: Node's defaults).
 * `BENCH_ONLY=memory` (not in the default set) runs 1,000,000 jobs (BENCH_MEMORY_JOBS)
 * through the gateway and the e-mail worker on a redis-server of its own and
 * reports their RSS and Redis's memory (see memory-run.ts).
 * `replication` (the cost of REDIS_MIN_REPLICAS_ACK=1) always starts its own
 * master and replica: it measures that setting on one known replica.
 */
const rounds = Number(process.env.BENCH_ROUNDS ?? 9);
const jobs = Number(process.env.BENCH_JOBS ?? 5_000);
const only = new Set((process.env.BENCH_ONLY ?? 'runtime,gateway,email,report,replication').split(','));

const target = await openRedisTarget().catch(exitOnConfigError);
// The standalone output stays as it was; another topology is named, since the figures depend on it.
if (target.topology.kind !== 'standalone') console.log(`redis: ${target.description}`);

try {
  if (only.has('runtime')) {
    console.log(
      `\nworker runtime vs raw BullMQ, no-op jobs, ${jobs} jobs per run, ${rounds} interleaved rounds`,
    );
    console.log(
      describeThroughput(
        await runtimeThroughput(target, { concurrency: 1, jobs: Math.ceil(jobs / 5), rounds }),
      ),
    );
    console.log(
      describeThroughput(await runtimeThroughput(target, { concurrency: 50, jobs, rounds }), {
        alike: 0.9,
        defaults: 0.8,
      }),
    );
  }
  if (only.has('gateway')) {
    console.log('');
    console.log(
      describeGatewayThroughput(
        await gatewayThroughput(target, {
          jobs: jobs * 2,
          rounds: Math.min(rounds, 5),
          // e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof` to see where the gateway's time goes.
          nodeFlags: process.env.BENCH_GATEWAY_NODE_FLAGS?.split(' ').filter(Boolean),
          baseline: process.env.BENCH_GATEWAY_BASELINE || undefined,
          // Unset: fleet.json's, as the gateway's; empty: Node's defaults.
          baselineNodeOptions: process.env.BENCH_GATEWAY_BASELINE_NODE_OPTIONS?.split(' ').filter(Boolean),
        }),
      ),
    );
  }
  if (only.has('email')) {
    console.log('');
    console.log(
      describeEmailThroughput(await emailThroughput(target, { messages: Math.ceil(jobs / 5), rounds })),
    );
  }
  if (only.has('report')) {
    console.log('');
    console.log(
      describeReportThroughput(
        await reportThroughput(target, {
          rows: Number(process.env.BENCH_REPORT_ROWS ?? 20_000),
          rounds: 3,
        }),
      ),
    );
  }
  if (only.has('replication')) {
    const master = await startRedisServer();
    const replica = await startRedisServer({ args: ['--replicaof', '127.0.0.1', String(master.port)] });
    try {
      await replicaInSync(master.url);
      for (const connections of [1, 64]) {
        console.log('');
        console.log(
          describeReplicationCost(
            await replicationCost(master.url, {
              jobs: connections === 1 ? Math.ceil(jobs / 5) : jobs * 2,
              rounds: Math.min(rounds, 5),
              connections,
            }),
          ),
        );
      }
    } finally {
      await Promise.all([replica.stop(), master.stop()]);
    }
  }
  // Not in the default set: 1,000,000 jobs take minutes. It starts its own redis-server, to read its memory alone.
  if (only.has('memory')) {
    console.log('');
    console.log(
      describeMemoryRun(await memoryRun({ jobs: Number(process.env.BENCH_MEMORY_JOBS ?? 1_000_000) })),
    );
  }
} finally {
  await target.stop();
}

/** Resolves once the master's replica acknowledges a write (it has finished its first sync). */
async function replicaInSync(url: string): Promise<void> {
  const client = new Redis(url);
  try {
    for (;;) {
      await client.set('bench:replica-probe', '1');
      if (Number(await client.call('WAIT', '1', '1000')) >= 1) return;
    }
  } finally {
    client.disconnect();
  }
}
