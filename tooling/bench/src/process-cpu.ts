import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

const CLOCK_TICKS = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout?.trim()) || 100;

/**
 * CPU seconds (user + system, all threads) another process has used so far, read from
 * `/proc/<pid>/stat` so the process itself needs no probe; `undefined` off Linux.
 * The resolution is one clock tick (10 ms at the usual 100 Hz).
 */
export function cpuSeconds(pid: number | undefined): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces) start at state; utime and stime are 14 and 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  } catch {
    return undefined;
  }
}

/** The processes `pid` has started (Linux), e.g. a primary's cluster workers. */
function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').split(' ').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/**
 * {@link cpuSeconds} of a process and every live process under it: a gateway
 * with `GATEWAY_WORKERS` is a primary and its workers. A child that exits
 * between two readings takes its seconds with it.
 */
export function treeCpuSeconds(pid: number | undefined): number | undefined {
  const own = cpuSeconds(pid);
  if (own === undefined || pid === undefined) return own;
  return childrenOf(pid).reduce((sum, child) => sum + (treeCpuSeconds(child) ?? 0), own);
}
