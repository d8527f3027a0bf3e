import { monitorEventLoopDelay } from 'node:perf_hooks';
import { USAGE_BUCKETS } from '@jobfleet/worker-runtime';
import { describe, expect, it } from 'vitest';
import { RenderFailedError, RenderTimeoutError } from '../src/errors.js';
import { renderReport } from '../src/render/render.js';
import { createSandboxRenderer } from '../src/render/sandbox.js';
import { buildReportModel } from '../src/report-model.js';
import { DIST_SANDBOX } from './start-worker.js';

const fixture = (name: string) => new URL(`./fixtures/${name}`, import.meta.url);
const model = buildReportModel(
  'acme',
  '2026-03-14',
  [
    {
      queue: 'emails',
      jobName: 'welcome',
      counts: { completed: 5, retried: 1, dead_lettered: 0, cancelled: 0 },
      buckets: Object.assign(new Array<number>(USAGE_BUCKETS.length + 1).fill(0), { 3: 6 }),
    },
  ],
  new Date('2026-03-15T02:00:00Z'),
);

describe('the sandbox renderer', () => {
  it('renders in a worker thread exactly what the renderer renders in-process, with progress', async () => {
    const renderer = createSandboxRenderer({ timeoutMs: 15_000, module: DIST_SANDBOX });
    const progress: number[] = [];
    const pdf = await renderer.render({ model, format: 'pdf' }, { onProgress: (p) => progress.push(p) });
    const direct = await renderReport({ model, format: 'pdf' });
    expect(Buffer.from(pdf).equals(Buffer.from(direct))).toBe(true);
    expect(progress.at(-1)).toBe(100);
    const csv = await renderer.render({ model, format: 'csv' });
    expect(Buffer.from(csv).toString()).toContain('emails,welcome,5,1,0,0,');
  });

  it('terminates a render that runs past the timeout, while the main thread stays responsive', async () => {
    const renderer = createSandboxRenderer({ timeoutMs: 700, module: fixture('hang-sandbox.mjs') });
    const delay = monitorEventLoopDelay({ resolution: 10 });
    delay.enable();
    const started = performance.now();
    const progress: number[] = [];
    const error = await renderer
      .render({ model, format: 'pdf' }, { onProgress: (p) => progress.push(p) })
      .catch((e: unknown) => e);
    const elapsed = performance.now() - started;
    delay.disable();
    expect(error).toBeInstanceOf(RenderTimeoutError);
    expect((error as Error).message).toMatch(/longer than 700 ms/);
    expect(elapsed).toBeGreaterThanOrEqual(690);
    expect(elapsed).toBeLessThan(5_000);
    expect(progress).toEqual([10]);
    // The spinning thread never held up this one: no event-loop stall anywhere near the timeout.
    expect(delay.max / 1e6).toBeLessThan(500);
  });

  it('fails with RenderFailedError when the renderer throws', async () => {
    const renderer = createSandboxRenderer({ timeoutMs: 10_000, module: fixture('failing-sandbox.mjs') });
    const error = await renderer.render({ model, format: 'csv' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RenderFailedError);
    expect((error as Error).message).toMatch(/the renderer broke/);
  });

  it('ends the sandbox when the job is cancelled', async () => {
    const renderer = createSandboxRenderer({ timeoutMs: 10_000, module: fixture('hang-sandbox.mjs') });
    const controller = new AbortController();
    const rendering = renderer.render(
      { model, format: 'pdf' },
      {
        signal: controller.signal,
        onProgress: () => controller.abort(new Error('cancelled')),
      },
    );
    await expect(rendering).rejects.toThrow('cancelled');
  });

  it('fails a render that exceeds its memory limit without taking the process down', async () => {
    const renderer = createSandboxRenderer({
      timeoutMs: 15_000,
      maxMemoryMb: 32,
      module: fixture('hog-sandbox.mjs'),
    });
    const error = await renderer.render({ model, format: 'csv' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RenderFailedError);
    expect((error as Error).message).toMatch(/out of memory/);
  });
});
