import { startRedisServer } from '@jobfleet/test-utils';
import { describeEmailThroughput, emailThroughput } from './email-throughput.js';
import { describeGatewayThroughput, gatewayThroughput } from './gateway-throughput.js';
import { describeReportThroughput, reportThroughput } from './report-throughput.js';
import { describeThroughput, runtimeThroughput } from './runtime-throughput.js';

/**
 * `pnpm bench`: throughput as ratios against the raw library measured in the
 * same run, in interleaved rounds. Uses its own redis-server unless
 * BENCH_REDIS_URL is set; BENCH_ONLY=runtime,gateway,email,report picks parts.
 */
const rounds = Number(process.env.BENCH_ROUNDS ?? 9);
const jobs = Number(process.env.BENCH_JOBS ?? 5_000);
const only = new Set((process.env.BENCH_ONLY ?? 'runtime,gateway,email,report').split(','));

const server = process.env.BENCH_REDIS_URL ? undefined : await startRedisServer();
const redisUrl = process.env.BENCH_REDIS_URL ?? server?.url ?? '';

try {
  if (only.has('runtime')) {
    console.log(
      `\nworker runtime vs raw BullMQ, no-op jobs, ${jobs} jobs per run, ${rounds} interleaved rounds`,
    );
    console.log(
      describeThroughput(
        await runtimeThroughput(redisUrl, { concurrency: 1, jobs: Math.ceil(jobs / 5), rounds }),
      ),
    );
    console.log(
      describeThroughput(await runtimeThroughput(redisUrl, { concurrency: 50, jobs, rounds }), 0.9),
    );
  }
  if (only.has('gateway')) {
    console.log('');
    console.log(
      describeGatewayThroughput(
        await gatewayThroughput(redisUrl, { jobs: jobs * 2, rounds: Math.min(rounds, 5) }),
      ),
    );
  }
  if (only.has('email')) {
    console.log('');
    console.log(
      describeEmailThroughput(await emailThroughput(redisUrl, { messages: Math.ceil(jobs / 5), rounds })),
    );
  }
  if (only.has('report')) {
    console.log('');
    console.log(
      describeReportThroughput(
        await reportThroughput(redisUrl, {
          rows: Number(process.env.BENCH_REPORT_ROWS ?? 20_000),
          rounds: 3,
        }),
      ),
    );
  }
} finally {
  await server?.stop();
}
