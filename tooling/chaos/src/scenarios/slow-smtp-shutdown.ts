import { keysOf, startLoad } from '../client.js';
import type { App } from '../fleet.js';
import { firstNewDelivery, settle, until } from '../result.js';
import { type Scenario, startCast } from './setup.js';

const CONNECTIONS = 3;

export const slowSmtpShutdown: Scenario = {
  name: 'shutdown, slow SMTP server',
  description:
    'The SMTP server sits 800 ms on each message before its 250; the worker (3 pooled connections, `SHUTDOWN_TIMEOUT_MS` 200) gets SIGTERM twice while messages are on the wire and others wait for a connection, a new worker started each time. No message may arrive twice. Recovery: from the last SIGTERM to the first e-mail of the new worker.',
  ci: true,
  async run(context) {
    const { profile, fleet } = context;
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
    const load = startLoad(keysOf('slow-smtp', profile.longJobs), {
      ...cast.client(),
      concurrency: 8,
      pauseMs: 0,
    });
    await load.done;
    const failures: string[] = [];
    let worker: App = cast.worker;
    let lastStop = 0;
    for (let round = 1; round <= 2; round++) {
      const before = cast.sink.transactions();
      await until(() => cast.sink.transactions() >= before + CONNECTIONS, 10_000);
      lastStop = performance.now();
      await worker.stop();
      const exit = await worker.process.exited;
      if (exit.code !== 0) failures.push(`worker of round ${round} exited with ${JSON.stringify(exit)}`);
      context.log(`worker stopped with messages on the wire (${round})`);
      worker = await cast.startWorker();
    }
    const result = await settle({
      scenario: this.name,
      log: context.log,
      tally: load.tally,
      sink: cast.sink,
      emails: cast.emails,
      drainMs: profile.drainMs,
      crashes: fleet.crashes,
      recoveryMs: () => firstNewDelivery(cast.sink, lastStop),
      faultAt: lastStop,
    });
    result.failures.push(...failures);
    return result;
  },
};
