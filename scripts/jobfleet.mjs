#!/usr/bin/env node
// The two Quickstart commands, `npm start` and `npm test`, land here. With only
// Node.js on the machine, this gets the pinned pnpm, installs the workspace from
// the lockfile, builds it, and runs the fleet, the tests or the benchmarks.
//
// Signals: whoever started us may signal only our PID (a supervisor, `timeout`,
// an IDE's stop button, npm forwarding its own), so every signal is passed on to
// the command running now, and we exit when it has.
import { spawn, spawnSync } from 'node:child_process';
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
// A closed terminal or pipe must not end us while the fleet is still stopping.
process.stdout.on('error', () => {});
process.stderr.on('error', () => {});

/** Every command we run: no telemetry, no update notices (turbo, pnpm, npm through npx). */
const quiet = {
  ...process.env,
  TURBO_TELEMETRY_DISABLED: '1',
  TURBO_NO_UPDATE_NOTIFIER: '1',
  DO_NOT_TRACK: '1',
  PNPM_CONFIG_UPDATE_NOTIFIER: 'false',
  NPM_CONFIG_UPDATE_NOTIFIER: 'false',
};

/** The command running now, and the first signal we were sent. */
let current;
let signalled;
const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'];

/** Exits as the child did: with its code, or by the same signal. */
function exitLike(code, signal) {
  if (signal) {
    for (const name of SIGNALS) process.removeAllListeners(name);
    process.kill(process.pid, signal);
    return;
  }
  process.exit(code ?? 1);
}

for (const signal of SIGNALS) {
  process.on(signal, () => {
    signalled ??= signal;
    if (current) current.kill(signal);
    else exitLike(undefined, signal);
  });
}

// npm and pnpm pass their signals on to us, but a package manager that is killed outright cannot:
// when the one that started us is gone, stop as if it had sent SIGTERM.
if (process.env.npm_lifecycle_event) {
  const parent = process.ppid;
  setInterval(() => {
    if (process.ppid === parent || signalled) return;
    signalled = 'SIGTERM';
    current?.kill('SIGTERM');
  }, 1_000).unref();
}

/** Runs a command to its end; a signal we receive meanwhile goes to it, and then we stop too. */
function run(cmd, args, options = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: root, stdio: 'inherit', env: quiet, ...options });
    current = child;
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      current = undefined;
      if (signalled || signal || code !== 0) exitLike(code, signal);
      else resolve();
    });
  });
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
  chaos: [['redis-server', 'REDIS_SERVER_BIN', 'redis-server']],
  test: [
    ['redis-server', 'REDIS_SERVER_BIN', 'redis-server'],
    ['promtool', 'PROMTOOL_BIN', 'prometheus'],
    ['amtool', 'AMTOOL_BIN', 'prometheus-alertmanager'],
    ['chromium', 'CHROMIUM_PATH', 'chromium'],
    ['pdftotext', undefined, 'poppler-utils'],
    ['docker-compose', undefined, 'docker-compose'],
    ['openssl', undefined, 'openssl'],
    ['python3', undefined, 'python3'],
  ],
};

/** Installs what is missing from Debian's packages when we can (root with apt-get), or says what to install. */
async function ensureTools(task) {
  const missing = TOOLS[task].filter(
    ([binary, override]) => !(override && process.env[override]) && !onPath(binary),
  );
  if (missing.length === 0) return;
  const packages = missing.map(([, , pkg]) => pkg);
  if (process.getuid?.() === 0 && onPath('apt-get')) {
    say(`installing missing Debian packages: ${packages.join(' ')}`);
    await run('sh', [join(root, 'scripts/apt-install.sh'), ...packages]);
    return;
  }
  say(`missing: ${missing.map(([binary]) => binary).join(', ')}`);
  say(
    `install them (Debian/Ubuntu: sudo apt-get install ${packages.join(' ')}; macOS: brew install redis for redis-server)`,
  );
  process.exit(1);
}

if (!['start', 'test', 'bench', 'chaos'].includes(command)) {
  say('usage: node scripts/jobfleet.mjs start|test|bench|chaos [chaos options]');
  process.exit(2);
}

const [bin, ...prefix] = pnpm();
await ensureTools(command);
await run(bin, [...prefix, 'install', '--frozen-lockfile']);
await run(bin, [...prefix, 'turbo', 'run', 'build', '--output-logs=errors-only']);
if (command === 'start') {
  // In a process group of its own, so a terminal's Ctrl-C arrives once, through us; the IPC
  // channel tells it when we are gone, however we went.
  await run(process.execPath, [join(root, 'tooling/local-fleet/dist/main.js')], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    detached: true,
  });
} else if (command === 'test') {
  await run(bin, [...prefix, 'turbo', 'run', 'test', '--concurrency=1', '--continue']);
} else if (command === 'chaos') {
  // `pnpm chaos --profile ci`: the options after the command go to the suite.
  await run(bin, [...prefix, '--silent', '--filter', '@jobfleet/chaos', 'chaos', ...process.argv.slice(3)]);
} else {
  await run(bin, [...prefix, '--filter', '@jobfleet/bench', 'bench']);
}
