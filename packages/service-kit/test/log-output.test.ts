import { spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { createLogger, gatherTurns, turnBufferedOutput } from '../src/logger.js';

const file = () => join(mkdtempSync(join(tmpdir(), 'log-output-')), 'out.log');
const lines = (path: string) =>
  readFileSync(path, 'utf8')
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as { msg: string; i: number });

describe('turnBufferedOutput', () => {
  it('writes the lines of a turn when the turn ends, whole and in order', async () => {
    const path = file();
    const fd = openSync(path, 'w');
    const logger = createLogger({ service: 'test', destination: turnBufferedOutput({ fd }) });
    for (let i = 0; i < 100; i++) logger.info({ i }, 'line');
    expect(readFileSync(path, 'utf8')).toBe('');
    await new Promise((resolve) => setImmediate(resolve));
    expect(lines(path).map((line) => line.i)).toEqual(Array.from({ length: 100 }, (_, i) => i));
    closeSync(fd);
  });

  it('cuts a turn into writes of at most maxWrite bytes, each of whole lines', async () => {
    const writes: string[] = [];
    const output = gatherTurns({ write: (chunk) => writes.push(chunk) }, 4_096);
    const logger = createLogger({ service: 'test', destination: output });
    // About 300 bytes a line: 2,000 lines make many writes, and each must hold whole lines.
    for (let i = 0; i < 2_000; i++) logger.info({ i, pad: 'x'.repeat(200) }, 'line');
    expect(writes).toEqual([]);
    await new Promise((resolve) => setImmediate(resolve));
    expect(writes.length).toBeGreaterThan(100);
    for (const chunk of writes) {
      expect(Buffer.byteLength(chunk)).toBeLessThanOrEqual(4_096);
      expect(chunk.endsWith('\n')).toBe(true);
    }
    const lines = writes
      .join('')
      .split('\n')
      .filter((line) => line !== '');
    expect(lines.map((line) => (JSON.parse(line) as { i: number }).i)).toEqual(
      Array.from({ length: 2_000 }, (_, i) => i),
    );
  });

  it('without maxWrite, one write per turn', async () => {
    const writes: string[] = [];
    const logger = createLogger({
      service: 'test',
      destination: gatherTurns({ write: (c) => writes.push(c) }),
    });
    for (let i = 0; i < 500; i++) logger.info({ i }, 'line');
    await new Promise((resolve) => setImmediate(resolve));
    logger.info({ i: 500 }, 'line');
    await new Promise((resolve) => setImmediate(resolve));
    expect(writes.map((chunk) => chunk.split('\n').length - 1)).toEqual([500, 1]);
  });

  it('writes what is left when the process exits', () => {
    const logger = fileURLToPath(new URL('../src/logger.ts', import.meta.url));
    const script = `
      import { createLogger } from ${JSON.stringify(logger)};
      const log = createLogger({ service: 'test' });
      for (let i = 0; i < 50; i++) log.info({ i }, 'line');
      process.exit(3);
    `;
    const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      encoding: 'utf8',
    });
    expect(child.status).toBe(3);
    const got = child.stdout
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => (JSON.parse(line) as { i: number }).i);
    expect(got).toEqual(Array.from({ length: 50 }, (_, i) => i));
  });
});
