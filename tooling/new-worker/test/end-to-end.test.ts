import { execFileSync, spawn } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const REPO = fileURLToPath(new URL('../../../', import.meta.url));
/** Terminal colour codes, which vitest prints under CI=true whatever NO_COLOR says. */
const ANSI = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, 'g');

/**
 * Runs a command in `cwd` and resolves with its standard output; on failure the error carries its
 * output. Asynchronous, so that independent checks run side by side.
 */
function run(cwd: string, cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      cwd,
      env: { ...process.env, TURBO_TELEMETRY_DISABLED: '1', DO_NOT_TRACK: '1', FORCE_COLOR: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    child.once('error', reject);
    child.once('close', (status) => {
      if (status === 0) resolve(stdout);
      else reject(new Error(`${cmd} ${args.join(' ')} exited ${status}\n${stdout}\n${stderr}`));
    });
  });
}

/**
 * What a team does on a fresh checkout: the generator, then build, lint and the
 * new worker's tests, with no other edit. Runs on a copy of the working tree
 * (tracked and new files, no node_modules or builds), so the repository is untouched.
 * The worker is generated once; each test checks one side of it.
 */
describe('a generated worker on a copy of the repository', () => {
  let root: string;
  let generated: string;

  beforeAll(async () => {
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
    await run(root, 'git', ['init', '--quiet']);
    await run(root, 'pnpm', ['install', '--frozen-lockfile', '--offline']);
    generated = await run(root, 'pnpm', [
      'new-worker',
      'thumbnails',
      '--job',
      'resize',
      '--job',
      'crop-square',
      '--team',
      'media',
    ]);
  }, 300_000);

  afterAll(() => {
    if (root) rmSync(root, { recursive: true, force: true });
  }, 120_000);

  it('registers it in fleet.json, the config docs and the Kubernetes objects', async () => {
    expect(generated).toContain('thumbnails-worker works the "thumbnails" queue');
    const fleet = JSON.parse(readFileSync(join(root, 'fleet.json'), 'utf8')) as {
      apps: Array<{ name: string }>;
    };
    expect(fleet.apps.map((app) => app.name)).toContain('thumbnails-worker');
    const [, , base] = await Promise.all([
      // Its .env.example and README table come from its config spec, as the drift test wants them.
      run(root, 'pnpm', ['docs:config', '--check']),
      // Its Kubernetes objects come from fleet.json too: a Deployment and a KEDA scaler on its queue.
      run(root, 'pnpm', ['fleet:generate', '--check']),
      run(root, 'kubectl', ['kustomize', 'deploy/k8s/base']),
    ]);
    expect(readFileSync(join(root, 'apps/thumbnails-worker/.env.example'), 'utf8')).toMatch(
      /^METRICS_PORT=\d+$/m,
    );
    expect(readFileSync(join(root, 'README.md'), 'utf8')).toContain('**thumbnails-worker**');
    const objects = base
      .split(/^---$/m)
      .map((doc) => [/^kind: (\w+)$/m.exec(doc)?.[1], /^ {2}name: (\S+)$/m.exec(doc)?.[1]]);
    expect(objects).toContainEqual(['Deployment', 'thumbnails-worker']);
    expect(objects).toContainEqual(['ScaledObject', 'thumbnails-worker']);
    expect(base).toContain('jobfleet_queue_jobs{queue="thumbnails",state=~"waiting|prioritized"}');
  }, 120_000);

  it('builds, type-checks and lints, and the fleet tests and its contract suite pass', async () => {
    const [turbo] = await Promise.all([
      // One turbo run, two tasks at a time (the copy shares a small machine), each task as soon as
      // what it needs is built. check-types (tsc --noEmit over src and test, with the declaration
      // checks `declaration: true` asks for) runs in every package, so every consumer of the
      // catalog is checked against the new queue; it builds what the packages depend on, and the
      // new worker is built too. A package nothing depends on is not also built: its build would
      // type-check the same sources again, only to write a dist/ nothing here reads.
      run(root, 'pnpm', [
        'turbo',
        'run',
        'check-types',
        '@jobfleet/thumbnails-worker#build',
        // deploy/k8s rendered with the new worker: every object against its schema, its scaler's PromQL.
        '@jobfleet/fleet#test',
        '@jobfleet/thumbnails-worker#test',
        '--concurrency=2',
        '--output-logs=new-only',
      ]),
      run(root, 'pnpm', ['lint']),
    ]);
    const tests = turbo
      .replace(ANSI, '')
      .split('\n')
      .filter((line) => line.startsWith('@jobfleet/thumbnails-worker:test:'))
      .join('\n');
    expect(tests).toMatch(/Tests\s+4 passed/);
    expect(turbo.replace(ANSI, '')).toMatch(/@jobfleet\/fleet:test:.*Test Files\s+\d+ passed/);
  }, 900_000);
});
