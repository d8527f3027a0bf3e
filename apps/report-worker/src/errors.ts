import { PermanentJobError } from '@jobfleet/worker-runtime';

/** A render ran past `REPORT_TIMEOUT_MS`; its sandbox was terminated. The attempt fails and is retried. */
export class RenderTimeoutError extends Error {
  override name = 'RenderTimeoutError';
  constructor(readonly timeoutMs: number) {
    super(`rendering the report took longer than ${timeoutMs} ms; its sandbox was terminated`);
  }
}

/** The sandbox failed: the renderer threw, ran out of memory, or the thread ended without a result. */
export class RenderFailedError extends Error {
  override name = 'RenderFailedError';
}

/**
 * A job posted by a key of one tenant asks for another tenant's report. The
 * gateway should refuse such a job at the edge; the worker refuses it too,
 * for good (a retry cannot make it allowed).
 */
export class TenantMismatchError extends PermanentJobError {
  override name = 'TenantMismatchError';
  constructor(origin: string, requested: string) {
    super(`a job posted for tenant "${origin}" may not request the report of tenant "${requested}"`);
  }
}
