import { clientKill } from './client-kill.js';
import { gracefulRestarts } from './graceful-restarts.js';
import { hostileHttp } from './hostile-http.js';
import { networkCut } from './network-cut.js';
import { redisFreeze } from './redis-freeze.js';
import { redisFull } from './redis-full.js';
import { redisRestartAlways, redisRestartEverysec } from './redis-restart.js';
import type { Scenario } from './setup.js';
import { slowSmtpShutdown } from './slow-smtp-shutdown.js';
import { workerKillBetweenSends, workerKillMidSend } from './worker-kill.js';

export type { Scenario, ScenarioContext } from './setup.js';

/** Every scenario, in the order the suite runs them. */
export const SCENARIOS: readonly Scenario[] = [
  workerKillBetweenSends,
  workerKillMidSend,
  redisRestartEverysec,
  redisRestartAlways,
  redisFreeze,
  clientKill,
  redisFull,
  gracefulRestarts,
  slowSmtpShutdown,
  networkCut,
  hostileHttp,
];
