#!/usr/bin/env node
/**
 * `pnpm fleet:generate`: rewrites the files generated from fleet.json.
 * `--check` writes nothing and exits 1 when one of them differs (CI, hooks).
 */
import { plan, writeGenerated } from './generate.js';
import { FleetManifestError, readFleet } from './manifest.js';
import { FLEET_FILE, REPO_ROOT } from './paths.js';

const check = process.argv.includes('--check');
try {
  const fleet = readFleet(FLEET_FILE);
  if (check) {
    const drifted = plan(REPO_ROOT, fleet).filter((file) => file.current !== file.expected);
    for (const file of drifted)
      console.error(
        `fleet: ${file.path} ${file.current === undefined ? 'is missing' : file.expected === undefined ? 'should not exist' : 'differs from fleet.json'} (run pnpm fleet:generate)`,
      );
    process.exitCode = drifted.length > 0 ? 1 : 0;
  } else {
    const written = writeGenerated(REPO_ROOT, fleet);
    console.log(
      written.length > 0
        ? `fleet: updated ${written.join(', ')} from fleet.json (${fleet.apps.length} apps)`
        : `fleet: every generated file matches fleet.json (${fleet.apps.length} apps)`,
    );
  }
} catch (error) {
  // A bad manifest or a hand-edited file the generator cannot place its parts in: one clear message.
  console.error(error instanceof FleetManifestError ? error.message : `fleet: ${(error as Error).message}`);
  process.exitCode = 1;
}
