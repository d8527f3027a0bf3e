/** The median of a non-empty list. */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  const at = (i: number) => sorted[i] ?? Number.NaN;
  return sorted.length % 2 ? at(mid) : (at(mid - 1) + at(mid)) / 2;
}

export function formatRate(perSecond: number): string {
  return `${Math.round(perSecond).toLocaleString('en-US')} jobs/s`;
}

/** Runs `total` tasks with `concurrency` of them in flight; returns the per-task times (ms) and the wall time. */
export async function drive(total: number, concurrency: number, task: (i: number) => Promise<void>) {
  let next = 0;
  const latencies: number[] = new Array(total);
  const started = performance.now();
  const cpu = process.cpuUsage();
  const lane = async () => {
    for (let i = next++; i < total; i = next++) {
      const at = performance.now();
      await task(i);
      latencies[i] = performance.now() - at;
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, total) }, lane));
  const used = process.cpuUsage(cpu);
  return {
    latencies,
    seconds: (performance.now() - started) / 1_000,
    /** This process's CPU over the run (µs). */
    cpuUs: used.user + used.system,
  };
}
