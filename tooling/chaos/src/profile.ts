/** How big and how long each scenario is. */
export interface Profile {
  readonly name: 'ci' | 'full';
  /** Jobs of the stream scenarios (kill -9, Redis restarts, CLIENT KILL, full Redis). */
  readonly streamJobs: number;
  /** Jobs of the long-job scenarios (graceful restarts, slow SMTP, network cut). */
  readonly longJobs: number;
  /** How long Redis stays frozen (SIGSTOP). */
  readonly freezeMs: number;
  /** How long Redis stays full. */
  readonly fullMs: number;
  /** How long Redis stays down after `kill -9`. */
  readonly downMs: number;
  /** CLIENT KILL rounds. */
  readonly clientKillRounds: number;
  /** Hostile HTTP requests. */
  readonly hostileRequests: number;
  /** The longest Retry-After the clients honour (the full profile honours 30 s; the short one cuts it). */
  readonly retryAfterCapMs: number;
  /** A client gives up on a request this long after its scenario's load began. */
  readonly clientDeadlineMs: number;
  /** How long a scenario may wait for its queue to drain. */
  readonly drainMs: number;
  /** A scenario that takes longer is stopped and fails. */
  readonly scenarioTimeoutMs: number;
}

export const PROFILES: Readonly<Record<Profile['name'], Profile>> = {
  ci: {
    name: 'ci',
    streamJobs: 60,
    longJobs: 12,
    freezeMs: 3_000,
    fullMs: 2_000,
    downMs: 1_000,
    clientKillRounds: 2,
    hostileRequests: 1_000,
    retryAfterCapMs: 2_000,
    clientDeadlineMs: 45_000,
    drainMs: 30_000,
    scenarioTimeoutMs: 90_000,
  },
  full: {
    name: 'full',
    streamJobs: 400,
    longJobs: 60,
    freezeMs: 8_000,
    fullMs: 5_000,
    downMs: 2_000,
    clientKillRounds: 5,
    hostileRequests: 2_000,
    retryAfterCapMs: 30_000,
    clientDeadlineMs: 120_000,
    drainMs: 90_000,
    scenarioTimeoutMs: 180_000,
  },
};
