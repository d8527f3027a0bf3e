import { ensureBuilt } from './worker-process.js';

/** Vitest globalSetup: builds dist/ once per run when src/ is newer (turbo's `test` task builds it too). */
export default function setup(): void {
  ensureBuilt();
}
