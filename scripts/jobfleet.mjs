#!/usr/bin/env node
// The two Quickstart commands, `npm start` and `npm test`, land here. With only
// Node.js on the machine, this gets the pinned pnpm, installs the workspace from
// the lockfile, builds it, and runs the fleet, the tests or the benchmarks.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const pinned = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).packageManager.replace(
  /^pnpm@/,
  '',
);
const command = process.argv[2];

const say = (line) => process.stderr.write(`[jobfleet] ${line}\n`);

function run(cmd, args, options = {}) {
  const result = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', ...options });
  if (result.error) throw result.error;
  if (result.signal) process.kill(process.pid, result.signal);
  if (result.status !== 0) process.exit(result.status ?? 1);
}

function pnpm() {
  const probe = spawnSync('pnpm', ['--version'], { encoding: 'utf8' });
  if (probe.status === 0 && probe.stdout.trim() === pinned) return ['pnpm'];
  say(`pnpm ${pinned} is not on the PATH; running it through npx`);
  return ['npx', '--yes', `pnpm@${pinned}`];
}

function has(binary) {
  return spawnSync(binary, ['--version'], { stdio: 'ignore' }).status === 0;
}

/** redis-server is needed by `pnpm start` (when no Redis runs) and by the tests. */
function ensureRedisServer() {
  if (process.env.REDIS_SERVER_BIN || has('redis-server')) return;
  if (process.getuid?.() === 0 && has('apt-get')) {
    say('redis-server is missing; installing the Debian package');
    run('apt-get', ['install', '-y', '-q', 'redis-server'], {
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
    return;
  }
  say(
    'redis-server is missing: install it (Debian/Ubuntu: sudo apt-get install redis-server; macOS: brew install redis)',
  );
  process.exit(1);
}

if (!['start', 'test', 'bench'].includes(command)) {
  say('usage: node scripts/jobfleet.mjs start|test|bench');
  process.exit(2);
}

const [bin, ...prefix] = pnpm();
ensureRedisServer();
run(bin, [...prefix, 'install', '--frozen-lockfile']);
run(bin, [...prefix, 'turbo', 'run', 'build', '--output-logs=errors-only']);
if (command === 'start') {
  // Ctrl-C reaches the launcher too; it stops the fleet in order, and we wait for it.
  process.on('SIGINT', () => {});
  process.on('SIGTERM', () => {});
  run(process.execPath, [join(root, 'packages/local-fleet/dist/main.js')]);
} else if (command === 'test') {
  run(bin, [...prefix, 'turbo', 'run', 'test', '--concurrency=1']);
} else {
  run(bin, [...prefix, '--filter', '@jobfleet/bench', 'bench']);
}
