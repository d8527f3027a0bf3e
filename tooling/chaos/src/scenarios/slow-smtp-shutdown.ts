import { keysOf } from '../client.js';
import { firstNewDelivery, until } from '../result.js';
import { type Scenario, startCast } from './setup.js';

const CONNECTIONS = 3;

export const slowSmtpShutdown: Scenario = {
  name: 'shutdown, slow SMTP server',
  description:
    'The SMTP server sits 800 ms on each message before its 250; the worker (3 pooled connections, `SHUTDOWN_TIMEOUT_MS` 200) gets SIGTERM twice while messages are on the wire and others wait for a connection, a new worker started each time. No message may arrive twice. Recovery: from the last SIGTERM to the first e-mail of the new worker.',
  ci: true,
  async run(context) {
    const { profile } = context;
    const cast = await startCast(context, {
      workerEnv: {
        SMTP_MAX_CONNECTIONS: String(CONNECTIONS),
        SMTP_SOCKET_TIMEOUT_MS: '10000',
        SHUTDOWN_TIMEOUT_MS: '200',
        WORKER_LOCK_DURATION_MS: '1000',
        WORKER_STALLED_INTERVAL_MS: '1000',
      },
    });
    cast.sink.setReplyDelay(800);
    const load = cast.load(keysOf('slow-smtp', profile.longJobs), { concurrency: 8, pauseMs: 0 });
    await load.done;
    const { lastStop, failures } = await cast.gracefulRestarts(
      () => {
        const before = cast.sink.transactions();
        return until(() => cast.sink.transactions() >= before + CONNECTIONS, 10_000);
      },
      (round) => `worker stopped with messages on the wire (${round})`,
    );
    return cast.settle(load.tally, {
      recoveryMs: () => firstNewDelivery(cast.sink, lastStop),
      faultAt: lastStop,
      failures,
    });
  },
};
