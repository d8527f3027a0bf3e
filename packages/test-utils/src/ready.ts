import type { ChildProcess } from 'node:child_process';
import { setTimeout as delay } from 'node:timers/promises';

/** Options of {@link waitUntilReady}. */
export interface WaitUntilReadyOptions {
  /** Give up after this long. Default 30 s. */
  readonly timeoutMs?: number;
  /** The pause between two polls. Default 100 ms. */
  readonly intervalMs?: number;
  /** The app's process: waiting stops as soon as it ends, rather than at the deadline. */
  readonly child?: ChildProcess;
  /** Added to the error, e.g. the process's output so far. */
  readonly output?: () => string;
}

/**
 * Resolves once `<url>/health/ready` answers 2xx: nothing in a spawned app
 * announces readiness uniformly, its own endpoint does. Rejects when `child`
 * ends first, or after `timeoutMs`.
 */
export async function waitUntilReady(url: string, options: WaitUntilReadyOptions = {}): Promise<void> {
  const { timeoutMs = 30_000, intervalMs = 100, child, output } = options;
  const detail = () => (output ? `:\n${output()}` : '');
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if (child && (child.exitCode !== null || child.signalCode !== null)) {
      const how = child.exitCode !== null ? `code ${child.exitCode}` : `signal ${child.signalCode}`;
      throw new Error(`exited (${how}) before it was ready${detail()}`);
    }
    const ready = await fetch(`${url}/health/ready`, { signal: AbortSignal.timeout(1_000) }).then(
      async (response) => {
        await response.body?.cancel();
        return response.ok;
      },
      // Not listening yet.
      () => false,
    );
    if (ready) return;
    if (performance.now() >= deadline) throw new Error(`not ready after ${timeoutMs} ms${detail()}`);
    await delay(intervalMs);
  }
}
