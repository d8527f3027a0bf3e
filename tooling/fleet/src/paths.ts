import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (this file is tooling/fleet/src/paths.ts or tooling/fleet/dist/paths.js). */
export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** The fleet manifest. */
export const FLEET_FILE = join(REPO_ROOT, 'fleet.json');
