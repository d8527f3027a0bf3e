import { setTimeout as sleep } from 'node:timers/promises';
import { until } from '../result.js';
import { readiness, type Scenario, startCast } from './setup.js';

export const redisFull: Scenario = {
  name: 'Redis full (maxmemory)',
  description:
    'Under a stream of requests (e-mails taking 300 ms to send, so jobs are in flight), `CONFIG SET maxmemory 1` with `noeviction`: every write is refused. Requests must be answered 503 `JOBFLEET_REDIS_FULL` and readiness must turn 503 (gateway and worker); then maxmemory is raised again. Recovery: from raising it to the gateway ready again.',
  ci: true,
  async run(context) {
    const { profile } = context;
    const cast = await startCast(context, {
      dlq: true,
      workerEnv: { EMAIL_SEND_DELAY_MS: '300' },
    });
    const load = cast.stream('full', { concurrency: 4, pauseMs: 50 });
    const failures: string[] = [];
    await until(() => load.tally.accepted.size >= 20, profile.drainMs);
    const before = new Map(load.tally.answers);
    await cast.redis.admin.config('SET', 'maxmemory', '1');
    context.log('Redis full');
    const fullAt = performance.now();
    for (const app of [cast.gateway, cast.worker]) {
      if (!(await until(async () => (await readiness(app.url)) === 503, 5_000))) {
        failures.push(`${app.name} readiness still ${await readiness(app.url)} 5 s after Redis was full`);
      }
    }
    await sleep(Math.max(0, profile.fullMs - (performance.now() - fullAt)));
    const whileFull = [...load.tally.answers]
      .map(([label, n]) => [label, n - (before.get(label) ?? 0)] as const)
      .filter(([, n]) => n > 0);
    await cast.redis.admin.config('SET', 'maxmemory', '0');
    const raisedAt = performance.now();
    await until(async () => (await readiness(cast.gateway.url)) === 200, 30_000);
    const recoveryMs = performance.now() - raisedAt;
    await load.stop();
    const full = whileFull.find(([label]) => label === '503 JOBFLEET_REDIS_FULL')?.[1] ?? 0;
    const others = whileFull.filter(([label]) => label !== '503 JOBFLEET_REDIS_FULL');
    if (full === 0) failures.push('no answer 503 JOBFLEET_REDIS_FULL while Redis was full');
    // Requests already under way when memory ran out may still land (2xx); anything else is wrong.
    const wrong = others.filter(([label]) => !label.startsWith('20'));
    if (wrong.length > 0) {
      failures.push(
        `while full, answers other than 503 JOBFLEET_REDIS_FULL: ${wrong.map(([l, n]) => `${n}× ${l}`).join(', ')}`,
      );
    }
    return cast.settle(load.tally, { recoveryMs, failures });
  },
};
