#!/usr/bin/env node
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createFleet, type LocalFleet } from './fleet.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const out = (line: string) => process.stdout.write(`${line}\n`);
// A closed terminal or pipe must not end us before the apps are stopped.
process.stdout.on('error', () => {});
process.stderr.on('error', () => {});

/**
 * Copies of one signal this close together are one request to stop: a
 * terminal's Ctrl-C reaches npm (or pnpm) and the launcher, and npm forwards its
 * copy too. A signal after this is the user insisting.
 */
const SAME_SIGNAL_MS = 1_000;

let fleet: LocalFleet;
try {
  fleet = createFleet({ root, env: process.env, out });
} catch (error) {
  process.stderr.write(`[fleet] cannot start: ${(error as Error).message}\n`);
  process.exit(1);
}

let firstSignalAt: number | undefined;
let started = false;
function onSignal(signal: NodeJS.Signals | 'disconnect') {
  const now = performance.now();
  if (firstSignalAt === undefined) {
    firstSignalAt = now;
    out(`[fleet] ${signal}: stopping (in-flight jobs finish first; signal again to stop at once)`);
    void fleet.stop().then((code) => process.exit(started ? code : 130));
  } else if (now - firstSignalAt >= SAME_SIGNAL_MS) {
    out(`[fleet] ${signal} again: killing every app now`);
    void fleet.kill().then(() => process.exit(130));
  }
}

for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, onSignal);
// Started by scripts/jobfleet.mjs with an IPC channel: if it dies without a word, stop as if signalled.
process.on('disconnect', () => onSignal('disconnect'));
// Whatever ends this process, the apps (each in a process group of its own) and Redis must not outlive it.
process.on('exit', () => fleet.killNow());

try {
  await fleet.start();
  started = true;
} catch (error) {
  // A signal during the start: its stop() exits once everything is down.
  if (firstSignalAt === undefined) {
    process.stderr.write(`[fleet] could not start: ${(error as Error).message}\n`);
    process.exit(1);
  }
}
