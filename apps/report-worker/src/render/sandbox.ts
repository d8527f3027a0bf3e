import { Worker } from 'node:worker_threads';
import { RenderFailedError, RenderTimeoutError } from '../errors.js';
import type { RenderRequest } from './render.js';
import { isSandboxMessage } from './sandbox-protocol.js';

/** The built sandbox entry, beside this module in `dist/render/`. */
export const DEFAULT_SANDBOX_MODULE = new URL('./sandbox-entry.js', import.meta.url);

export interface RenderOptions {
  /** Aborting terminates the sandbox (job cancelled). */
  signal?: AbortSignal;
  /** Hears the sandbox's progress, 0–100. */
  onProgress?: (percent: number) => void;
}

/** Renders reports somewhere that cannot block the caller's event loop. */
export interface ReportRenderer {
  render(request: RenderRequest, options?: RenderOptions): Promise<Uint8Array>;
}

export interface SandboxRendererOptions {
  /** Past this the sandbox is terminated and the render fails with {@link RenderTimeoutError}. */
  timeoutMs: number;
  /** The sandbox's old-generation heap limit. */
  maxMemoryMb?: number;
  /**
   * The module the thread runs; {@link DEFAULT_SANDBOX_MODULE} unless a caller
   * (a test) passes another. Not configurable from the environment.
   */
  module?: URL;
}

/**
 * One `worker_threads` Worker per render: the CPU-heavy work runs on another
 * core while the main thread keeps renewing BullMQ locks and serving
 * `/metrics`. A fresh thread per render means a terminated or crashed render
 * leaves nothing behind; its start-up (tens of milliseconds) is small beside a
 * report.
 */
export function createSandboxRenderer(options: SandboxRendererOptions): ReportRenderer {
  const module = options.module ?? DEFAULT_SANDBOX_MODULE;
  return {
    render(request, { signal, onProgress } = {}) {
      return new Promise<Uint8Array>((resolve, reject) => {
        if (signal?.aborted) {
          reject(signal.reason);
          return;
        }
        const thread = new Worker(module, {
          workerData: request,
          resourceLimits: options.maxMemoryMb ? { maxOldGenerationSizeMb: options.maxMemoryMb } : {},
        });
        let settled = false;
        // Every way out ends the thread before the promise settles, so a retry never overlaps a live render.
        const finish = (outcome: () => void) => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
          void thread.terminate().finally(outcome);
        };
        const timer = setTimeout(
          () => finish(() => reject(new RenderTimeoutError(options.timeoutMs))),
          options.timeoutMs,
        );
        const onAbort = () => finish(() => reject(signal?.reason));
        signal?.addEventListener('abort', onAbort, { once: true });

        thread.on('message', (message: unknown) => {
          if (!isSandboxMessage(message)) return;
          if (message.type === 'progress') onProgress?.(message.percent);
          else finish(() => resolve(message.body));
        });
        thread.on('error', (error: Error) => {
          const code = (error as NodeJS.ErrnoException).code;
          const reason =
            code === 'ERR_WORKER_OUT_OF_MEMORY'
              ? `the report sandbox ran out of memory (limit ${options.maxMemoryMb} MB)`
              : `the report sandbox failed: ${error.message}`;
          finish(() => reject(new RenderFailedError(reason, { cause: error })));
        });
        thread.on('exit', (exitCode) => {
          finish(() =>
            reject(new RenderFailedError(`the report sandbox exited (code ${exitCode}) without a report`)),
          );
        });
      });
    },
  };
}
