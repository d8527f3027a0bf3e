import { keysOf } from '../client.js';
import { firstNewDelivery, until } from '../result.js';
import { type Scenario, startCast } from './setup.js';

export const gracefulRestarts: Scenario = {
  name: 'two graceful restarts, long jobs',
  description:
    'E-mails that take 3 s each (1.5 s in the short profile; `EMAIL_SEND_DELAY_MS`), 8 at a time, `SHUTDOWN_TIMEOUT_MS` 1 s, short locks (3 s, stalled check every second, `WORKER_MAX_STALLED_COUNT` 1): the worker gets SIGTERM twice in a row while jobs run, a new one started each time, as in a rolling deploy. No job may be dead-lettered or sent twice; each worker must exit 0. Recovery: from the last SIGTERM to the first e-mail of the new worker.',
  ci: true,
  async run(context) {
    const { profile } = context;
    const cast = await startCast(context, {
      dlq: true,
      workerEnv: {
        EMAIL_SEND_DELAY_MS: profile.name === 'ci' ? '1500' : '3000',
        SHUTDOWN_TIMEOUT_MS: '1000',
        WORKER_CONCURRENCY: '8',
        WORKER_LOCK_DURATION_MS: '3000',
        WORKER_STALLED_INTERVAL_MS: '1000',
      },
    });
    const load = cast.load(keysOf('restart', profile.longJobs), { concurrency: 8, pauseMs: 0 });
    await load.done;
    const { lastStop, failures } = await cast.gracefulRestarts(
      () => until(async () => (await cast.emails.getActiveCount()) >= 4, 10_000),
      (round) => `graceful restart ${round}`,
    );
    return cast.settle(load.tally, {
      recoveryMs: () => firstNewDelivery(cast.sink, lastStop),
      faultAt: lastStop,
      failures,
    });
  },
};
