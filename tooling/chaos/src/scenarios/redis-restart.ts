import { setTimeout as sleep } from 'node:timers/promises';
import { keysOf } from '../client.js';
import { firstAfter, until } from '../result.js';
import { type Scenario, startCast } from './setup.js';

const redisRestart = (appendfsync: 'everysec' | 'always'): Scenario => ({
  name: `kill -9 Redis (AOF ${appendfsync})`,
  description: `Redis with \`appendonly yes\` and \`appendfsync ${appendfsync}\`; under a stream of requests it is killed with SIGKILL, stays down for a moment and is started again on its AOF. Recovery: from the restart to the next request accepted.`,
  ci: appendfsync === 'everysec',
  async run(context) {
    const { profile } = context;
    const cast = await startCast(context, { appendfsync });
    const load = cast.load(keysOf(`aof-${appendfsync}`, profile.streamJobs), { concurrency: 4, pauseMs: 20 });
    await until(() => load.tally.accepted.size >= profile.streamJobs / 3, profile.drainMs);
    await cast.redis.kill();
    context.log('Redis killed');
    await sleep(profile.downMs);
    await cast.redis.restart();
    const restartedAt = performance.now();
    await load.done;
    const result = await cast.settle(load.tally, {
      recoveryMs: () => firstAfter(load.tally.okAt, restartedAt),
    });
    const slowFsync = cast.redis.log.filter((line) => /fsync is taking too long/i.test(line)).length;
    if (slowFsync > 0) {
      result.notes.push(
        `Redis logged ${slowFsync}× "Asynchronous AOF fsync is taking too long (disk is busy?)": it wrote the AOF late while answering`,
      );
    }
    if (appendfsync === 'everysec' && result.lost > 0) {
      result.notes.push(
        'known limit: with appendfsync everysec, Redis may lose up to a second of acknowledged writes on a crash (Redis persistence docs); use appendfsync always or replicas with REDIS_MIN_REPLICAS_ACK',
      );
    }
    return result;
  },
});

export const redisRestartEverysec = redisRestart('everysec');
export const redisRestartAlways = redisRestart('always');
