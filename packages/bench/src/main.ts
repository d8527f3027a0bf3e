import { startRedisServer } from '@jobfleet/test-utils';
import { describeThroughput, runtimeThroughput } from './runtime-throughput.js';

/**
 * `pnpm bench`: throughput as ratios against raw BullMQ measured in the same
 * run. Uses its own redis-server unless BENCH_REDIS_URL is set.
 */
const rounds = Number(process.env.BENCH_ROUNDS ?? 7);
const jobs = Number(process.env.BENCH_JOBS ?? 5_000);

const server = process.env.BENCH_REDIS_URL ? undefined : await startRedisServer();
const redisUrl = process.env.BENCH_REDIS_URL ?? server?.url ?? '';

try {
  console.log(
    `worker runtime vs raw BullMQ, no-op jobs, ${jobs} jobs per run, median of ${rounds} interleaved rounds`,
  );
  console.log(
    describeThroughput(
      await runtimeThroughput(redisUrl, { concurrency: 1, jobs: Math.ceil(jobs / 5), rounds }),
    ),
  );
  console.log(describeThroughput(await runtimeThroughput(redisUrl, { concurrency: 50, jobs, rounds }), 0.9));
} finally {
  await server?.stop();
}
