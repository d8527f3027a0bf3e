import { type DeadLetter, deadLetters, emails } from '@jobfleet/queue-contracts';
import { ConfigError, env } from '@jobfleet/service-kit';
import { promtoolCheckMetrics, useTestRedis } from '@jobfleet/test-utils';
import { type Job, Queue, QueueEvents, type Worker } from 'bullmq';
import { afterEach, describe, expect, expectTypeOf, it } from 'vitest';
import { defineWorker, type HandlerMap } from '../src/index.js';
import { pings } from './fixture-contract.js';
import { thumbnails } from './fixture-worker/contract.js';
import { handlers as thumbnailHandlers } from './fixture-worker/src/handlers.js';

const pingHandlers: HandlerMap<typeof pings> = {
  ping: async ({ text }) => ({ echoed: text }),
  pause: async () => null,
};

/** Resolves with the next job `worker` reports for `event` (after the runtime's own listeners, which count it). */
const next = (worker: Worker, event: 'completed' | 'failed', accept: (job: Job) => boolean) =>
  new Promise<Job>((resolve) => {
    const listener = (job: Job | undefined) => {
      if (!job || !accept(job) || (event === 'failed' && !job.finishedOn)) return;
      worker.off(event, listener);
      resolve(job);
    };
    worker.on(event, listener);
  });

describe('defineWorker: one process serving two queues', () => {
  const redis = useTestRedis();
  const cleanup: Array<() => Promise<unknown>> = [];
  afterEach(async () => {
    for (const step of cleanup.splice(0).reverse()) await step();
  });

  it('runs a BullMQ worker per queue, each with its concurrency, dead-lettering and metrics labels, on one /metrics; one close stops both', async () => {
    const order: string[] = [];
    let workersRunningAtResourceClose: boolean[] = [];
    let running: Awaited<ReturnType<typeof shared.start>> | undefined;
    const shared = defineWorker({
      service: 'shared-worker',
      metricsPort: 0,
      resources: () => ({
        readiness: [{ name: 'fixture', check: async () => ({ ok: true as const }) }],
        close: async () => {
          workersRunningAtResourceClose = Object.values(running?.workers ?? {}).map((w) => w.isRunning());
          order.push('resources closed');
        },
      }),
      queues: [
        { contract: pings, handlers: pingHandlers, concurrency: 3 },
        { contract: thumbnails, handlers: thumbnailHandlers, concurrency: 2 },
      ],
    });
    running = await shared.start({
      env: { REDIS_URL: redis.url, JOBFLEET_PREFIX: redis.prefix, WORKER_CONCURRENCY_THUMBNAILS: '4' },
    });
    const worker = running;
    cleanup.push(() => worker.close());

    // Concurrency: the first queue's from the definition, the second's from its own key.
    expect(worker.concurrency).toEqual({ pings: 3, thumbnails: 4 });
    expect(Object.keys(worker.workers)).toEqual(['pings', 'thumbnails']);
    expect(worker.workers.pings?.opts.concurrency).toBe(3);
    expect(worker.workers.thumbnails?.opts.concurrency).toBe(4);
    expect(worker.worker).toBe(worker.workers.pings);

    const connection = redis.connection();
    const pingQueue = new Queue(pings.name, { connection, prefix: redis.prefix });
    const thumbnailQueue = new Queue(thumbnails.name, { connection, prefix: redis.prefix });
    const dlq = new Queue<DeadLetter>(deadLetters.name, { connection, prefix: redis.prefix });
    const dlqEvents = new QueueEvents(deadLetters.name, {
      connection: { url: redis.url },
      prefix: redis.prefix,
    });
    cleanup.push(
      () => pingQueue.close(),
      () => thumbnailQueue.close(),
      () => dlq.close(),
      () => dlqEvents.close(),
    );
    await dlqEvents.waitUntilReady();
    const twoRecords = new Promise<void>((resolve) => {
      let added = 0;
      dlqEvents.on('added', () => {
        if (++added === 2) resolve();
      });
    });

    // Both queues process jobs…
    const pinged = next(worker.workers.pings as Worker, 'completed', () => true);
    const resized = next(worker.workers.thumbnails as Worker, 'completed', () => true);
    await pingQueue.add('ping', { text: 'a' }, pings.defaultJobOptions);
    await thumbnailQueue.add('resize', { id: 'image-1' }, thumbnails.defaultJobOptions);
    expect((await pinged).returnvalue).toEqual({ echoed: 'a' });
    expect((await resized).returnvalue).toEqual({ ok: true });

    // …and both dead-letter a final failure.
    const pingFailed = next(worker.workers.pings as Worker, 'failed', () => true);
    const cropFailed = next(worker.workers.thumbnails as Worker, 'failed', () => true);
    const badPing = await pingQueue.add('ping', { text: 1 }, pings.defaultJobOptions);
    const badCrop = await thumbnailQueue.add('crop', { id: '' }, thumbnails.defaultJobOptions);
    await Promise.all([pingFailed, cropFailed, twoRecords]);
    const records = (await dlq.getJobs(['waiting'])).map((record) => [record.data.queue, record.data.jobId]);
    expect(records.sort()).toEqual([
      ['pings', badPing.id],
      ['thumbnails', badCrop.id],
    ]);

    // One /metrics, every series labelled by its queue, and the served queues' owners.
    const metrics = await (await fetch(`${worker.metricsUrl}/metrics`)).text();
    for (const line of [
      'jobfleet_jobs_processed_total{queue="pings",job_name="ping",outcome="completed"} 1',
      'jobfleet_jobs_processed_total{queue="pings",job_name="ping",outcome="dead_lettered"} 1',
      'jobfleet_jobs_processed_total{queue="thumbnails",job_name="resize",outcome="completed"} 1',
      'jobfleet_jobs_processed_total{queue="thumbnails",job_name="crop",outcome="dead_lettered"} 1',
      'jobfleet_worker_active_jobs{queue="pings"} 0',
      'jobfleet_worker_active_jobs{queue="thumbnails"} 0',
      'jobfleet_queue_info{queue="pings",team="platform"} 1',
      'jobfleet_queue_info{queue="thumbnails",team="thumbnails"} 1',
    ]) {
      expect(metrics).toContain(line);
    }
    expect(metrics.match(/^jobfleet_queue_info\{/gm)).toHaveLength(2);
    expect(promtoolCheckMetrics(metrics)).toBe('');

    // The resources' readiness check joins the runtime's.
    const ready = await fetch(`${worker.metricsUrl}/health/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({
      checks: [
        { name: 'redis', ok: true },
        { name: 'worker', ok: true },
        { name: 'fixture', ok: true },
      ],
    });

    // One close stops both workers first, then the resources, then /metrics.
    expect(await worker.close()).toBe(true);
    expect(order).toEqual(['resources closed']);
    expect(workersRunningAtResourceClose).toEqual([false, false]);
    expect(Object.values(worker.workers).map((w) => w.isRunning())).toEqual([false, false]);
    await expect(fetch(`${worker.metricsUrl}/metrics`)).rejects.toThrow();
  });
});

describe('defineWorker: configuration', () => {
  const twoQueues = defineWorker({
    service: 'shared-worker',
    metricsPort: 9199,
    config: { PINGS_PER_CORE: env.integer({ default: 4, min: 1, max: 100 }) },
    queues: [
      { contract: pings, handlers: pingHandlers, concurrency: (config) => config.pingsPerCore * 2 },
      { contract: thumbnails, handlers: thumbnailHandlers },
    ],
  });

  it('adds the keys every worker reads, and a concurrency key for each further queue only', () => {
    const keys = Object.keys(twoQueues.configSpec);
    expect(keys).toEqual(
      expect.arrayContaining([
        'REDIS_URL',
        'METRICS_PORT',
        'WORKER_CONCURRENCY',
        'WORKER_CONCURRENCY_THUMBNAILS',
        'PINGS_PER_CORE',
      ]),
    );
    expect(keys).not.toContain('WORKER_CONCURRENCY_PINGS');
    // The docs (`pnpm docs:config`) show each queue's default, which the definition decides.
    expect(twoQueues.configSpec.WORKER_CONCURRENCY.defaultText).toBe("derived from the app's configuration");
    expect(twoQueues.configSpec.WORKER_CONCURRENCY_THUMBNAILS).toMatchObject({
      defaultText: '10',
      doc: 'Jobs at once of the `thumbnails` queue.',
    });
    expect(twoQueues.configSpec.WORKER_CONCURRENCY_THUMBNAILS?.fallback?.()).toBeUndefined();
    const config = twoQueues.loadConfig({});
    expect(config.metricsPort).toBe(9199);
    expectTypeOf(config.pingsPerCore).toEqualTypeOf<number>();
  });

  it('takes each queue’s concurrency from its key, else from the definition (a value or a function of the config), else 10', () => {
    expect(twoQueues.concurrency(twoQueues.loadConfig({}))).toEqual({ pings: 8, thumbnails: 10 });
    expect(twoQueues.concurrency(twoQueues.loadConfig({ PINGS_PER_CORE: '1' }))).toEqual({
      pings: 2,
      thumbnails: 10,
    });
    expect(
      twoQueues.concurrency(
        twoQueues.loadConfig({ WORKER_CONCURRENCY: '5', WORKER_CONCURRENCY_THUMBNAILS: '1' }),
      ),
    ).toEqual({ pings: 5, thumbnails: 1 });
  });

  it('names every bad key in one error', () => {
    let error: unknown;
    try {
      twoQueues.loadConfig({ WORKER_CONCURRENCY_THUMBNAILS: '0', METRICS_PORT: 'x', PINGS_PER_CORE: 'many' });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).issues.map((issue) => issue.split(':')[0]).sort()).toEqual([
      'METRICS_PORT',
      'PINGS_PER_CORE',
      'WORKER_CONCURRENCY_THUMBNAILS',
    ]);
  });

  it('refuses a definition without queues or with a queue twice', () => {
    expect(() => defineWorker({ service: 'idle', metricsPort: 0, queues: [] })).toThrow(
      /idle: a worker serves at least one queue/,
    );
    expect(() =>
      defineWorker({
        service: 'twice',
        metricsPort: 0,
        queues: [
          { contract: pings, handlers: pingHandlers },
          { contract: pings, handlers: pingHandlers },
        ],
      }),
    ).toThrow(/twice: queue "pings" is listed twice/);
  });
});

describe('defineWorker: types', () => {
  it('checks each queue’s handlers against its own contract, and types resources in handler factories', () => {
    const defined = defineWorker({
      service: 'typed',
      metricsPort: 0,
      resources: () => ({ greeting: 'hello' }),
      queues: [
        {
          contract: pings,
          handlers: ({ resources }) => {
            expectTypeOf(resources.greeting).toEqualTypeOf<string>();
            return pingHandlers;
          },
        },
        // @ts-expect-error: the handlers of `pings` do not fit `thumbnails`
        { contract: thumbnails, handlers: pingHandlers },
      ],
    });
    defineWorker({
      service: 'wrong',
      metricsPort: 0,
      queues: [
        {
          contract: emails,
          // @ts-expect-error: handlers of `pings` lack those of `emails`' jobs
          handlers: pingHandlers,
        },
      ],
    });
    expectTypeOf(defined.contracts).toEqualTypeOf<readonly [typeof pings, typeof thumbnails]>();
  });
});
