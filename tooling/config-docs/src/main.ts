#!/usr/bin/env node
/**
 * `pnpm docs:config`: writes every app's `.env.example`, the root one and the
 * README's configuration tables from the apps' config specs. `--check` writes
 * nothing and exits 1 when one of them differs (the drift test does the same).
 * Run by `pnpm new-worker`; run it after changing a key.
 */
import { fileURLToPath } from 'node:url';
import { loadAppSpecs, plan, specProblems, writePlanned } from './generate.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const check = process.argv.includes('--check');
try {
  const apps = await loadAppSpecs(root);
  const problems = specProblems(apps);
  if (problems.length > 0) throw new Error(problems.join('\n'));
  const planned = plan(root, apps);
  if (check) {
    const drifted = planned.filter((file) => file.current !== file.expected);
    for (const file of drifted)
      console.error(`config-docs: ${file.path} differs from the config specs (run pnpm docs:config)`);
    process.exitCode = drifted.length > 0 ? 1 : 0;
  } else {
    const written = writePlanned(root, planned);
    console.log(
      written.length > 0
        ? `config-docs: wrote ${written.join(', ')} from the config specs (${apps.length} apps)`
        : `config-docs: every generated file matches the config specs (${apps.length} apps)`,
    );
  }
} catch (error) {
  console.error(`config-docs: ${(error as Error).message.split('\n').join('\nconfig-docs: ')}`);
  process.exitCode = 1;
}
