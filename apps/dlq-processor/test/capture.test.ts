import type { StoredDeadLetter } from '@jobfleet/dead-letter-store';
import { catalog, deadLetterId, deadLetters, emails } from '@jobfleet/queue-contracts';
import { useServiceProcesses, useTestRedis } from '@jobfleet/test-utils';
import { Queue } from 'bullmq';
import { afterEach, describe, expect, it } from 'vitest';
import { addWelcomes, emailWorker, startProcessor, sumMetric, waitFor } from './helpers.js';

const STATES = ['waiting', 'active', 'completed', 'failed', 'delayed', 'prioritized'] as const;

describe('capture: one record per final failure, whatever crashed', () => {
  const redis = useTestRedis();
  const cleanup: Array<() => Promise<unknown>> = [];
  afterEach(async () => {
    for (const step of cleanup.splice(0).reverse()) await step().catch(() => {});
  });
  // `failing-worker.ts` (see there), run through tsx; killed after each test, before the steps above.
  const failingWorkers = useServiceProcesses({
    packageDir: new URL('..', import.meta.url),
    main: 'test/failing-worker.ts',
    name: 'the failing worker',
  });

  const recordJobs = async () => {
    const dlq = new Queue(deadLetters.name, { connection: redis.connection(), prefix: redis.prefix });
    const counts = await dlq.getJobCounts(...STATES);
    await dlq.close();
    return Object.values(counts).reduce((sum, n) => sum + n, 0);
  };

  it('200 always-failing jobs, the DLQ processor stopped for part of the run, a worker killed with kill -9 mid-run: exactly 200 records', async () => {
    const jobIds = await addWelcomes(redis, 200);
    const source = new Queue(emails.name, { connection: redis.connection(), prefix: redis.prefix });
    cleanup.push(() => source.close());

    // Phase 1: a worker process fails jobs; a DLQ processor records the first ones, then stops.
    const first = await startProcessor(redis, { DLQ_RECONCILE_INTERVAL_MS: '1h' });
    cleanup.push(() => first.close());
    const child = failingWorkers.spawn(
      {
        REDIS_URL: redis.url,
        JOBFLEET_PREFIX: redis.prefix,
        FREEZE_AT_FAILURE: '40',
        WORKER_CONCURRENCY: '4',
      },
      { nodeArgs: ['--import', 'tsx'] },
    );
    await waitFor(async () => (await first.resources.store.count(emails.name)) >= 10, 'the first records');
    await first.close();

    // Phase 2: the worker freezes between failing a job and writing its record, and is killed there.
    const frozen = await child.waitForLog((line) => line.msg === 'frozen');
    child.child.kill('SIGKILL');
    expect(await child.exited).toEqual({ code: null, signal: 'SIGKILL' });
    const lost = await source.getJob(String(frozen.job_id));
    expect(await lost?.getState()).toBe('failed');
    const lostId = deadLetterId(emails.name, String(lost?.id), lost?.finishedOn ?? 0);

    // Phase 3: another worker fails the rest, including the jobs the dead one held (they stall back).
    const worker = await emailWorker(redis);
    await waitFor(async () => (await source.getFailedCount()) === 200, 'all 200 jobs to fail');
    await worker.close(); // resolves once its dead-letter writes are done
    const written = await recordJobs();
    expect(written, 'the kill must have lost at least the record of the frozen failure').toBeLessThan(200);
    const dlq = new Queue(deadLetters.name, { connection: redis.connection(), prefix: redis.prefix });
    cleanup.push(() => dlq.close());
    expect(await dlq.getJob(lostId)).toBeUndefined();

    // Phase 4: a DLQ processor comes back: it indexes the backlog and its reconciliation writes what was lost.
    const second = await startProcessor(redis, { DLQ_RECONCILE_INTERVAL_MS: '500' });
    cleanup.push(() => second.close());
    await waitFor(
      async () => (await second.resources.store.count(emails.name)) === 200,
      '200 indexed records',
    );
    await waitFor(
      async () => (await dlq.getJobCounts('waiting', 'active')).waiting === 0,
      'an idle processor',
    );

    const listed: StoredDeadLetter[] = [];
    let cursor: string | undefined;
    do {
      const page = await second.resources.store.list({ queue: emails.name, limit: 64, cursor });
      listed.push(...page.items);
      cursor = page.nextCursor;
    } while (cursor);
    expect(listed).toHaveLength(200);
    expect(new Set(listed.map((item) => item.id)).size).toBe(200);
    expect(listed.map((item) => item.record.jobId).sort()).toEqual([...jobIds].sort());
    expect(await recordJobs()).toBe(200);
    expect(await second.resources.store.count()).toBe(200);

    const recovered = await second.resources.store.get(lostId);
    expect(recovered?.record).toMatchObject({
      queue: 'emails',
      jobId: lost?.id,
      jobName: 'welcome',
      failedReason: 'always fails',
      attemptsMade: 1,
    });
    const metrics = await second.registry.metrics();
    expect(sumMetric(metrics, 'jobfleet_dead_letters_reconciled_total', 'queue="emails"')).toBe(
      200 - written,
    );
    expect(sumMetric(metrics, 'jobfleet_dead_letters', 'queue="emails"')).toBe(200);

    // Nothing is missing any more: another pass finds nothing, and nothing changes.
    expect((await second.resources.reconcile()).found).toEqual(
      Object.fromEntries(Object.keys(catalog).map((queue) => [queue, 0])),
    );
    expect(await recordJobs()).toBe(200);
  }, 60_000);
});
