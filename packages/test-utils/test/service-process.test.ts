import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type ServiceProcess, spawnService } from '../src/service-process.js';
import { useServiceProcesses } from '../src/service-processes.js';

const dir = mkdtempSync(join(tmpdir(), 'service-process-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function script(name: string, source: string): string {
  const path = join(dir, name);
  writeFileSync(path, source);
  return path;
}

describe('spawnService', () => {
  it('collects JSON lines, keeps unparsed ones, and sees only PATH and the given env', async () => {
    const main = script(
      'env.mjs',
      `console.log(JSON.stringify({ msg: 'env', keys: Object.keys(process.env).sort(), greeting: process.env.GREETING }));
       console.log('not json');
       console.error('to stderr');`,
    );
    const proc = spawnService({ main, cwd: dir, env: { GREETING: 'hi' } });
    expect(await proc.exited).toEqual({ code: 0, signal: null });
    expect(proc.logs[0]).toMatchObject({ msg: 'env', greeting: 'hi' });
    const keys = (proc.logs[0]?.keys ?? []) as string[];
    expect(keys.filter((k) => k !== 'PATH')).toEqual(['GREETING']);
    expect(proc.logs[1]).toEqual({ msg: 'not json', unparsed: true });
    expect(proc.stderr()).toContain('to stderr');
  });

  it('resolves waitForLog with a past or a future line', async () => {
    const main = script(
      'later.mjs',
      `console.log(JSON.stringify({ msg: 'first' }));
       process.stdin.resume();
       setTimeout(() => { console.log(JSON.stringify({ msg: 'second' })); }, 200);`,
    );
    const proc = spawnService({ main, cwd: dir, env: {} });
    expect(await proc.waitForLog((l) => l.msg === 'second')).toEqual({ msg: 'second' });
    expect(await proc.waitForLog((l) => l.msg === 'first')).toEqual({ msg: 'first' });
    await proc.exited;
  });

  it('rejects waitForLog when the process ends first, with its output, and reads all output before exited', async () => {
    const main = script(
      'dies.mjs',
      `console.log(JSON.stringify({ msg: 'bye' })); console.error('boom'); process.exit(3);`,
    );
    const proc = spawnService({ main, cwd: dir, env: {}, name: 'the dying service' });
    await expect(proc.waitForLog((l) => l.msg === 'never')).rejects.toThrow(
      /the dying service exited before the awaited log line[\s\S]*"bye"[\s\S]*boom/,
    );
    expect(await proc.exited).toEqual({ code: 3, signal: null });
    expect(proc.logs).toEqual([{ msg: 'bye' }]);
  });

  it('rejects waitForLog after the timeout', async () => {
    const main = script('waits.mjs', 'setInterval(() => {}, 1000);');
    const proc = spawnService({ main, cwd: dir, env: {} });
    await expect(proc.waitForLog(() => false, 100)).rejects.toThrow(
      /no matching log line from the process within 100 ms/,
    );
    proc.child.kill('SIGKILL');
    expect(await proc.exited).toEqual({ code: null, signal: 'SIGKILL' });
  });
});

describe('ServiceProcess.stop', () => {
  it('sends SIGTERM by default and resolves with the exit; on an ended process it only resolves', async () => {
    const main = script(
      'graceful.mjs',
      `process.on('SIGTERM', () => { console.log(JSON.stringify({ msg: 'bye' })); process.exit(0); });
       console.log(JSON.stringify({ msg: 'up' }));
       setInterval(() => {}, 1000);`,
    );
    const proc = spawnService({ main, cwd: dir, env: {} });
    await proc.waitForLog((l) => l.msg === 'up');
    expect(await proc.stop()).toEqual({ code: 0, signal: null });
    expect(proc.logs.at(-1)).toEqual({ msg: 'bye' });
    expect(await proc.stop('SIGKILL')).toEqual({ code: 0, signal: null });
  });
});

describe('useServiceProcesses', () => {
  script(
    'idle.mjs',
    `console.log(JSON.stringify({ msg: 'idle', cwd: process.cwd(), a: process.env.A, b: process.env.B })); setInterval(() => {}, 1000);`,
  );
  const processes = useServiceProcesses({
    packageDir: new URL(`file://${dir}/`),
    main: 'idle.mjs',
    env: { A: 'shared', B: 'shared' },
  });
  let left: ServiceProcess | undefined;

  it('runs the package script in the package directory with the shared and the given env', async () => {
    expect(processes.packageDir).toBe(`${dir}/`);
    left = processes.spawn({ B: 'own' });
    expect(await left.waitForLog((l) => l.msg === 'idle')).toMatchObject({ cwd: dir, a: 'shared', b: 'own' });
    expect(left.child.exitCode).toBeNull();
  });

  it('killed the process the previous test left running', async () => {
    expect(await left?.exited).toEqual({ code: null, signal: 'SIGKILL' });
  });
});
