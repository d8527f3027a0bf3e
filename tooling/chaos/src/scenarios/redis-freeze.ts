import { setTimeout as sleep } from 'node:timers/promises';
import { firstAfter, until } from '../result.js';
import { type Scenario, startCast } from './setup.js';

/** The gateway's promise while Redis hangs: an answer within about a second (750 ms command timeout plus margin). */
const ANSWER_BOUND_MS = 1_500;

export const redisFreeze: Scenario = {
  name: 'Redis frozen (SIGSTOP)',
  description:
    "Eight clients send requests back to back; Redis is stopped with SIGSTOP (connections open, nothing answers) for the profile's time, then continued. Every answer must come within 1.5 s; clients retry 503/504 with their key. Recovery: from SIGCONT to the next request accepted.",
  ci: true,
  async run(context) {
    const { profile } = context;
    const cast = await startCast(context);
    const load = cast.stream('freeze', { concurrency: 8, pauseMs: 20 });
    try {
      await until(() => load.tally.accepted.size >= 20, profile.drainMs);
      cast.redis.freeze();
      context.log(`Redis frozen for ${profile.freezeMs} ms`);
      await sleep(profile.freezeMs);
    } finally {
      cast.redis.thaw();
    }
    const thawedAt = performance.now();
    // As many accepted after the thaw as before the freeze: the stream goes on, not just one request.
    await until(() => load.tally.okAt.filter((at) => at >= thawedAt).length >= 20, profile.drainMs);
    await load.stop();
    const result = await cast.settle(load.tally, { recoveryMs: () => firstAfter(load.tally.okAt, thawedAt) });
    if (profile.freezeMs > 5_000 && result.notes.some((note) => note.includes('stalled-job recovery'))) {
      result.notes.push(
        "the freeze outlasts the workers' 5 s lock: Redis expires the locks of the active jobs when it resumes, and they are re-run (the delivery ledger keeps them from sending twice)",
      );
    }
    if (result.slowestMs > ANSWER_BOUND_MS) {
      result.failures.push(
        `an answer took ${Math.round(result.slowestMs)} ms (bound ${ANSWER_BOUND_MS} ms while Redis is frozen)`,
      );
    }
    return result;
  },
};
