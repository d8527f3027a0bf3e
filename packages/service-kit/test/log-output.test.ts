import { spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  createLogger,
  gatherTurns,
  isoTime,
  jsonField,
  preformattedLine,
  turnBufferedOutput,
} from '../src/logger.js';

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

describe('preformattedLine', () => {
  const fields = {
    request_id: 'r-1',
    client: 'a"b\\c',
    url: '/x?y=\u2028',
    duplicate: false,
    status_code: 202,
    gone: undefined,
  };
  const serialised = Object.entries(fields)
    .map(([key, value]) => jsonField(key, value))
    .join('');
  const capture = () => {
    const written: string[] = [];
    return { written, out: { write: (line: string) => written.push(line) > 0 } };
  };
  const withoutTime = (line: string | undefined) => line?.replace(/"time":"[^"]+"/, '"time":"T"');

  it("writes exactly the line the logger's own method writes: level, time, bindings, fields, message", () => {
    const { written, out } = capture();
    const logger = createLogger({ service: 'test', destination: out }).child({ bound: 1 });
    logger.info(fields, 'done "now"');
    preformattedLine(logger, 'info')(serialised, 'done "now"');
    expect(written).toHaveLength(2);
    expect(withoutTime(written[1])).toBe(withoutTime(written[0]));
    expect(JSON.parse(written[1] ?? '')).toMatchObject({
      level: 30,
      service: 'test',
      bound: 1,
      client: 'a"b\\c',
      msg: 'done "now"',
    });
  });

  it('writes nothing below the logger level', () => {
    const { written, out } = capture();
    const logger = createLogger({ service: 'test', level: 'warn', destination: out });
    preformattedLine(logger, 'info')(serialised, 'quiet');
    expect(written).toEqual([]);
  });

  it("goes through the logger's method when a mixin must see the line", () => {
    const { written, out } = capture();
    const logger = pino({ base: null, mixin: () => ({ mixed: true }) }, out);
    preformattedLine(logger, 'info')(serialised, 'mixed');
    expect(JSON.parse(written[0] ?? '')).toMatchObject({ mixed: true, request_id: 'r-1', msg: 'mixed' });
  });
});

describe('isoTime', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it("writes what pino's isoTime writes, across milliseconds, seconds, days and years", () => {
    const time = isoTime();
    vi.useFakeTimers({ toFake: ['Date'] });
    for (const at of [
      Date.UTC(2026, 11, 7, 4, 25, 13, 0),
      Date.UTC(2026, 11, 7, 4, 25, 13, 7),
      Date.UTC(2026, 11, 7, 4, 25, 13, 42),
      Date.UTC(2026, 11, 7, 4, 25, 13, 999),
      Date.UTC(2026, 11, 7, 4, 25, 14, 100),
      Date.UTC(2026, 11, 31, 23, 59, 59, 999),
      Date.UTC(2027, 0, 1, 0, 0, 0, 5),
      // Back to an earlier second: the cached date part must not stay.
      Date.UTC(2026, 11, 7, 4, 25, 13, 500),
    ]) {
      vi.setSystemTime(at);
      expect(time()).toBe(pino.stdTimeFunctions.isoTime());
    }
  });
});
