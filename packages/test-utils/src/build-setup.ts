import type { TestProject } from 'vitest/node';
import { ensureBuilt } from './service-process.js';

/**
 * Vitest `globalSetup` for packages whose tests run their built entrypoint
 * (`node dist/main.js`) or other built files: builds the package's `dist/` once,
 * before any test file runs, when it is missing or older than `src/`. Two test
 * files building it at once could let one start `dist/main.js` while the other
 * rewrites it.
 */
export default function setup(project: TestProject): void {
  ensureBuilt(project.config.root);
}
