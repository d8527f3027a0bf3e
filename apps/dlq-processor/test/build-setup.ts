import { ensureBuilt } from './process.js';

/**
 * Vitest `globalSetup`: builds `dist/` once, before any test file runs, when it
 * is older than `src/`, so no test starts `node dist/main.js` while another
 * rewrites it.
 */
export default function setup(): void {
  ensureBuilt();
}
