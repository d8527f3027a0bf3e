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

function onPath(binary) {
  return spawnSync('sh', ['-c', 'command -v "$1"', 'sh', binary], { stdio: 'ignore' }).status === 0;
}

/** The programs each task needs besides Node.js: [binary, env override, Debian package]. */
const TOOLS = {
  start: [['redis-server', 'REDIS_SERVER_BIN', 'redis-server']],
  bench: [['redis-server', 'REDIS_SERVER_BIN', 'redis-server']],
  test: [
    ['redis-server', 'REDIS_SERVER_BIN', 'redis-server'],
    ['promtool', 'PROMTOOL_BIN', 'prometheus'],
    ['amtool', 'AMTOOL_BIN', 'prometheus-alertmanager'],
    ['chromium', 'CHROMIUM_PATH', 'chromium'],
    ['pdftotext', undefined, 'poppler-utils'],
    ['docker-compose', undefined, 'docker-compose'],
  ],
};

/** Installs what is missing from Debian's packages when we can (root with apt-get), or says what to install. */
function ensureTools(task) {
  const missing = TOOLS[task].filter(
    ([binary, override]) => !(override && process.env[override]) && !onPath(binary),
  );
  if (missing.length === 0) return;
  const packages = missing.map(([, , pkg]) => pkg);
  if (process.getuid?.() === 0 && onPath('apt-get')) {
    say(`installing missing Debian packages: ${packages.join(' ')}`);
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    run('apt-get', ['update', '-q'], { env });
    run('apt-get', ['install', '-y', '-q', '--no-install-recommends', ...packages], { env });
    return;
  }
  say(`missing: ${missing.map(([binary]) => binary).join(', ')}`);
  say(
    `install them (Debian/Ubuntu: sudo apt-get install ${packages.join(' ')}; macOS: brew install redis for redis-server)`,
  );
  process.exit(1);
}

if (!['start', 'test', 'bench'].includes(command)) {
  say('usage: node scripts/jobfleet.mjs start|test|bench');
  process.exit(2);
}

const [bin, ...prefix] = pnpm();
ensureTools(command);
run(bin, [...prefix, 'install', '--frozen-lockfile']);
run(bin, [...prefix, 'turbo', 'run', 'build', '--output-logs=errors-only']);
if (command === 'start') {
  // Ctrl-C reaches the launcher too; it stops the fleet in order, and we wait for it.
  process.on('SIGINT', () => {});
  process.on('SIGTERM', () => {});
  run(process.execPath, [join(root, 'tooling/local-fleet/dist/main.js')]);
} else if (command === 'test') {
  run(bin, [...prefix, 'turbo', 'run', 'test', '--concurrency=1']);
} else {
  run(bin, [...prefix, '--filter', '@jobfleet/bench', 'bench']);
}
