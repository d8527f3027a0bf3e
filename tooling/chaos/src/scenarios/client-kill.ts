import { setTimeout as sleep } from 'node:timers/promises';
import { firstAfter, until } from '../result.js';
import { type Scenario, startCast } from './setup.js';

export const clientKill: Scenario = {
  name: 'CLIENT KILL (normal, pubsub)',
  description:
    "Under a stream of requests, `CLIENT KILL TYPE normal` (every app's commands and blocking connections) then `CLIENT KILL TYPE pubsub`, a few rounds a second apart. Recovery: the longest time from a kill to the next request accepted.",
  ci: true,
  async run(context) {
    const { profile } = context;
    const cast = await startCast(context);
    const load = cast.stream('client-kill', { concurrency: 4, pauseMs: 20 });
    let recoveryMs = 0;
    let killed = 0;
    await until(() => load.tally.accepted.size >= 10, profile.drainMs);
    for (let round = 0; round < profile.clientKillRounds; round++) {
      for (const type of ['normal', 'pubsub']) {
        const at = performance.now();
        killed += Number(await cast.redis.admin.call('CLIENT', 'KILL', 'TYPE', type));
        await until(() => firstAfter(load.tally.okAt, at) !== undefined, 10_000);
        recoveryMs = Math.max(recoveryMs, firstAfter(load.tally.okAt, at) ?? 10_000);
        await sleep(500);
      }
    }
    context.log('kills done');
    await load.stop();
    context.log('load done');
    const result = await cast.settle(load.tally, { recoveryMs });
    result.notes.push(`${killed} connections killed in ${profile.clientKillRounds} rounds`);
    return result;
  },
};
