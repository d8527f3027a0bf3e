#!/usr/bin/env node
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startFleet } from './fleet.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const out = (line: string) => process.stdout.write(`${line}\n`);

try {
  const fleet = await startFleet({ root, env: process.env, out });
  let stopping = false;
  const shutdown = async (reason: string) => {
    if (stopping) return;
    stopping = true;
    out(`[fleet] ${reason}: stopping (in-flight jobs finish first)`);
    const code = await fleet.stop();
    process.exit(code);
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  const { name, code } = await fleet.exited;
  await shutdown(`${name} exited unexpectedly with code ${code}`);
} catch (error) {
  process.stderr.write(`[fleet] could not start: ${(error as Error).message}\n`);
  process.exit(1);
}
