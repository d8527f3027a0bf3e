import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const REPO = fileURLToPath(new URL('../../../', import.meta.url));
/** Terminal colour codes, which vitest prints under CI=true whatever NO_COLOR says. */
const ANSI = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, 'g');

/** Runs a command in `cwd`; on failure the error carries its output. */
function run(cwd: string, cmd: string, args: string[]): string {
  const result = spawnSync(cmd, args, {
    cwd,
    encoding: 'utf8',
    env: { ...process.env, TURBO_TELEMETRY_DISABLED: '1', DO_NOT_TRACK: '1', FORCE_COLOR: '0' },
    maxBuffer: 64 * 1024 * 1024,
  });
  if (result.status !== 0) {
    throw new Error(`${cmd} ${args.join(' ')} exited ${result.status}\n${result.stdout}\n${result.stderr}`);
  }
  return result.stdout;
}

/**
 * What a team does on a fresh checkout: the generator, then build, lint and the
 * new worker's tests, with no other edit. Runs on a copy of the working tree
 * (tracked and new files, no node_modules or builds), so the repository is untouched.
 */
describe('a generated worker on a copy of the repository', () => {
  let root: string;

  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), 'new-worker-e2e-'));
    const files = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], {
      cwd: REPO,
      encoding: 'utf8',
    })
      .split('\0')
      .filter(Boolean);
    for (const file of files) {
      try {
        mkdirSync(dirname(join(root, file)), { recursive: true });
        cpSync(join(REPO, file), join(root, file));
      } catch (error) {
        // A tracked file deleted in the working tree is not part of the copy.
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      }
    }
    // A repository of its own, so biome reads .gitignore as in a checkout.
    run(root, 'git', ['init', '--quiet']);
    run(root, 'pnpm', ['install', '--frozen-lockfile', '--offline']);
  }, 300_000);

  afterAll(() => {
    if (root) rmSync(root, { recursive: true, force: true });
  }, 120_000);

  it('builds, lints and passes its contract suite with no other edit', () => {
    const out = run(root, 'pnpm', [
      'new-worker',
      'thumbnails',
      '--job',
      'resize',
      '--job',
      'crop-square',
      '--team',
      'media',
    ]);
    expect(out).toContain('thumbnails-worker works the "thumbnails" queue');

    const fleet = JSON.parse(readFileSync(join(root, 'fleet.json'), 'utf8')) as {
      apps: Array<{ name: string }>;
    };
    expect(fleet.apps.map((app) => app.name)).toContain('thumbnails-worker');
    // Its .env.example and README table come from its config spec, as the drift test wants them.
    run(root, 'pnpm', ['docs:config', '--check']);
    expect(readFileSync(join(root, 'apps/thumbnails-worker/.env.example'), 'utf8')).toMatch(
      /^METRICS_PORT=\d+$/m,
    );
    expect(readFileSync(join(root, 'README.md'), 'utf8')).toContain('**thumbnails-worker**');
    // Its Kubernetes objects come from fleet.json too: a Deployment and a KEDA scaler on its queue.
    run(root, 'pnpm', ['fleet:generate', '--check']);
    const base = run(root, 'kubectl', ['kustomize', 'deploy/k8s/base']);
    const objects = base
      .split(/^---$/m)
      .map((doc) => [/^kind: (\w+)$/m.exec(doc)?.[1], /^ {2}name: (\S+)$/m.exec(doc)?.[1]]);
    expect(objects).toContainEqual(['Deployment', 'thumbnails-worker']);
    expect(objects).toContainEqual(['ScaledObject', 'thumbnails-worker']);
    expect(base).toContain('jobfleet_queue_jobs{queue="thumbnails",state=~"waiting|prioritized"}');

    // Two at a time: the copy shares a small machine with whatever else runs.
    run(root, 'pnpm', [
      'turbo',
      'run',
      'build',
      'check-types',
      '--concurrency=2',
      '--output-logs=errors-only',
    ]);
    run(root, 'pnpm', ['lint']);
    // deploy/k8s rendered with the new worker: every object against its schema, its scaler's PromQL.
    run(root, 'pnpm', ['--filter', '@jobfleet/fleet', 'test']);
    const tests = run(root, 'pnpm', ['--filter', '@jobfleet/thumbnails-worker', 'test']).replace(ANSI, '');
    expect(tests).toMatch(/Tests\s+4 passed/);
  }, 900_000);
});
