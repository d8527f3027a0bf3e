import { promtoolCheckMetrics, useServiceProcesses, useTestRedis } from '@jobfleet/test-utils';
import { Queue, QueueEvents } from 'bullmq';
import { describe, expect, it } from 'vitest';
import { thumbnails } from './fixture-worker/contract.js';

/** `main()` as an entrypoint runs it: the fixture's two-line `main.ts`, in its own process (through tsx). */
describe('a defined worker’s main()', () => {
  const redis = useTestRedis();
  const processes = useServiceProcesses({
    packageDir: new URL('..', import.meta.url),
    main: 'test/fixture-worker/src/main.ts',
    name: 'the thumbnails worker',
  });
  // tsx compiles on the fly: slower to start than a built main.js.
  const spawn = (env: Record<string, string>) => processes.spawn(env, { nodeArgs: ['--import', 'tsx'] });

  it('starts, serves its queue and /metrics with jobfleet_queue_info, and exits 0 on SIGTERM', async () => {
    const worker = spawn({
      REDIS_URL: redis.url,
      JOBFLEET_PREFIX: redis.prefix,
      HOST: '127.0.0.1',
      METRICS_PORT: '0',
    });
    const started = await worker.waitForLog((line) => line.msg === 'worker started', 30_000);
    expect(started).toMatchObject({ queues: ['thumbnails'], concurrency: { thumbnails: 10 } });

    const queue = new Queue(thumbnails.name, { connection: redis.connection(), prefix: redis.prefix });
    const events = new QueueEvents(thumbnails.name, { connection: { url: redis.url }, prefix: redis.prefix });
    await events.waitUntilReady();
    const job = await queue.add('crop', { id: 'image-1' }, thumbnails.defaultJobOptions);
    expect(await job.waitUntilFinished(events, 10_000)).toEqual({ ok: true });
    await Promise.all([events.close(), queue.close()]);

    const metrics = await (await fetch(String(started.metrics))).text();
    expect(metrics).toContain('jobfleet_queue_info{queue="thumbnails",team="thumbnails"} 1');
    expect(promtoolCheckMetrics(metrics)).toBe('');

    expect(await worker.stop('SIGTERM')).toEqual({ code: 0, signal: null });
    expect(worker.logs.map((line) => line.msg)).toEqual(
      expect.arrayContaining(['shutting down', 'shutdown complete']),
    );
  }, 60_000);

  it('refuses a bad configuration with one message naming every bad key, and exit code 1', async () => {
    const worker = spawn({ METRICS_PORT: 'x', WORKER_CONCURRENCY: '0', REDIS_URL: 'http://nowhere' });
    expect(await worker.exited).toEqual({ code: 1, signal: null });
    const stderr = worker.stderr();
    expect(stderr).toMatch(/^invalid configuration:/);
    for (const key of ['METRICS_PORT', 'WORKER_CONCURRENCY', 'REDIS_URL'])
      expect(stderr).toContain(`\n  ${key}: `);
    expect(stderr).not.toMatch(/\n\s+at /);
    expect(worker.logs).toEqual([]);
  }, 60_000);
});
