import { ensureBuilt } from './worker-process.js';

/**
 * Vitest `globalSetup`: builds `dist/` once, before any test file runs, when it
 * is older than `src/`. Two process test files building it at the same time
 * could let one start `node dist/main.js` while the other rewrites it.
 */
export default function setup(): void {
  ensureBuilt();
}
