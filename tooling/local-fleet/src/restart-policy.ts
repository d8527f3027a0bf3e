/** How the local fleet restarts an app that exits on its own. */
export interface RestartPolicy {
  /** The wait before the first restart; each crash in a row doubles it. */
  readonly initialDelayMs: number;
  readonly maxDelayMs: number;
  /** An app that stayed up this long counts as healthy again: its next crash waits `initialDelayMs`. */
  readonly resetAfterMs: number;
}

export const DEFAULT_RESTART_POLICY: RestartPolicy = {
  initialDelayMs: 1_000,
  maxDelayMs: 30_000,
  resetAfterMs: 60_000,
};

/** The wait before restarting after the `crashesInARow`-th crash in a row (1 for the first). */
export function restartDelay(crashesInARow: number, policy: RestartPolicy = DEFAULT_RESTART_POLICY): number {
  const doublings = Math.max(0, Math.min(crashesInARow - 1, 30));
  return Math.min(policy.initialDelayMs * 2 ** doublings, policy.maxDelayMs);
}
