import closeWithGrace from 'close-with-grace';
import type { Logger } from 'pino';

export interface ShutdownOptions {
  logger: Logger;
  /** How long `close` may take before the process is ended anyway (exit 1). */
  hardTimeoutMs: number;
  close: (reason: { signal?: string; err?: Error }) => Promise<void>;
}

/**
 * For entrypoints only: on SIGTERM/SIGINT (or a crash) run `close` once and
 * exit 0; a second signal or an overrun of `hardTimeoutMs` exits 1.
 * `close()` starts the same shutdown without a signal (a process told by its
 * supervisor over IPC); once a shutdown has started it does nothing.
 */
export function handleShutdown({ logger, hardTimeoutMs, close }: ShutdownOptions): {
  uninstall(): void;
  close(): void;
} {
  let started = false;
  const grace = closeWithGrace(
    { delay: hardTimeoutMs, logger: { error: (message: unknown) => logger.error(String(message)) } },
    async ({ signal, err }) => {
      started = true;
      if (err) logger.fatal({ err }, 'shutting down after an unexpected error');
      else logger.info({ signal }, 'shutting down');
      await close({ ...(signal ? { signal } : {}), ...(err ? { err } : {}) });
      logger.info('shutdown complete');
    },
  );
  return {
    uninstall: () => grace.uninstall(),
    close: () => {
      if (!started) void grace.close();
    },
  };
}
