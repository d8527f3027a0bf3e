import { emails, originOf, reports } from '@jobfleet/queue-contracts';
import { useTestRedis } from '@jobfleet/test-utils';
import type { HandlerMap } from '@jobfleet/worker-runtime';
import { type Job, Queue } from 'bullmq';
import { afterEach, describe, expect, it } from 'vitest';
import { downloadUrl, NOTICE_MARKER_TTL_SECONDS, noticeJobId, noticeMarkerKey } from '../src/notice.js';
import { reportQueues, sample, scrape } from './helpers.js';
import { startInProcessWorker } from './start-worker.js';

const redis = useTestRedis();
const cleanup: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step().catch(() => {});
});

const ALL_STATES = ['waiting', 'active', 'completed', 'failed', 'delayed', 'prioritized'] as const;

async function setup(wrap?: (handlers: HandlerMap<typeof reports>) => HandlerMap<typeof reports>) {
  const worker = await startInProcessWorker({ redisUrl: redis.url, prefix: redis.prefix, wrap });
  cleanup.push(() => worker.close());
  const queues = await reportQueues(redis, cleanup);
  const emailQueue = new Queue(emails.name, { connection: redis.connection(), prefix: redis.prefix });
  cleanup.push(() => emailQueue.close());
  /** Every e-mail job, whatever its state (no email worker runs here, so they wait). */
  const emailJobs = async () =>
    (await emailQueue.getJobs([...ALL_STATES])).filter((j): j is Job => Boolean(j));
  return { worker, ...queues, emailQueue, emailJobs };
}

const DATA = { tenantId: 'acme', date: '2026-11-01', format: 'pdf', notify: 'ops@acme.example' };

describe('notify', () => {
  it('enqueues one notification e-mail with the download link', async () => {
    const { add, events, emailJobs } = await setup();
    const job = await add(DATA);
    const result = await job.waitUntilFinished(events, 15_000);
    const jobs = await emailJobs();
    expect(jobs).toHaveLength(1);
    const [notice] = jobs;
    expect(notice?.id).toBe(noticeJobId(job.id ?? ''));
    expect(notice?.name).toBe('notification');
    expect(notice?.data).toMatchObject({
      to: 'ops@acme.example',
      subject: 'Daily report for acme, 2026-11-01',
    });
    const link = `https://jobs.example.com/v1/reports/${job.id}/file`;
    expect(notice?.data.text).toContain(link);
    expect(notice?.data.text).toContain('Jobs finished: 0');
    expect(notice?.opts).toMatchObject({ attempts: emails.defaultJobOptions.attempts });
    expect(notice && originOf(notice)).toEqual({ client: 'report-worker', tenant: 'acme' });
    expect(result.contentType).toBe('application/pdf');
  });

  it('sends no second notice when the report job is retried after its file was written and notice sent', async () => {
    // Attempt 1 does everything (file stored, notice enqueued), then dies before it can complete.
    const attempts: number[] = [];
    const { worker, add, events, emailJobs, queue } = await setup((handlers) => ({
      'daily-report': async (data, context) => {
        attempts.push(context.attempt);
        const result = await handlers['daily-report'](data, context);
        if (context.attempt === 1) throw new Error('crashed after storing the report');
        return result;
      },
    }));
    const job = await add(DATA);
    const result = await job.waitUntilFinished(events, 15_000);
    expect(attempts).toEqual([1, 2]);
    expect((await queue.getJob(job.id ?? ''))?.attemptsMade).toBe(2);
    expect(await emailJobs()).toHaveLength(1);
    expect((await worker.resources.store.stat('acme', job.id ?? ''))?.sha256).toBe(result.sha256);

    const metrics = await scrape(worker.metricsUrl);
    expect(sample(metrics, 'jobfleet_report_notices_total{result="enqueued"}')).toBe(1);
    expect(sample(metrics, 'jobfleet_report_notices_total{result="already_sent"}')).toBe(1);
  });

  it('sends no second notice when a finished report is run again, whichever of its two guards is gone', async () => {
    const { add, events, emailJobs, emailQueue, queue } = await setup();
    const job = await add(DATA);
    await job.waitUntilFinished(events, 15_000);
    const id = job.id ?? '';
    const marker = noticeMarkerKey(redis.prefix, id);
    const client = redis.connection();
    expect(await client.ttl(marker)).toBeGreaterThan(NOTICE_MARKER_TTL_SECONDS - 60);
    expect(NOTICE_MARKER_TTL_SECONDS).toBeGreaterThan(reports.defaultJobOptions.removeOnFail.age);

    const rerun = async () => {
      const finished = (await queue.getJob(id)) as Job;
      await finished.retry('completed');
      // Subscribes, then checks the job's state: a run that finishes first is not missed.
      await finished.waitUntilFinished(events, 10_000);
    };

    // The e-mail job is gone (the emails queue keeps completed jobs a day): the marker still says "sent".
    await (await emailQueue.getJob(noticeJobId(id)))?.remove();
    await rerun();
    expect(await emailJobs()).toHaveLength(0);

    // The marker is gone (a crash between enqueueing and marking): the e-mail job's id still says "sent".
    await emailQueue.add(
      'notification',
      { to: 'ops@acme.example', subject: 's', text: 't' },
      { jobId: noticeJobId(id) },
    );
    await client.del(marker);
    await rerun();
    expect(await emailJobs()).toHaveLength(1);
    expect(await client.exists(marker)).toBe(1);
  });

  it('derives notice ids that BullMQ accepts as custom ids, and links that survive any job id', () => {
    expect(noticeJobId('17')).toBe('report-notice-17');
    expect(noticeJobId('nightly.acme-2026_11')).toBe('report-notice-nightly.acme-2026_11');
    const odd = noticeJobId('repeat:acme:1700000000000');
    expect(odd).toMatch(/^report-notice-h[0-9a-f]{64}$/);
    expect(odd).not.toContain(':');
    expect(noticeJobId('x'.repeat(101))).toMatch(/^report-notice-h/);
    expect(downloadUrl('https://jobs.example.com/', 'a b/c')).toBe(
      'https://jobs.example.com/v1/reports/a%20b%2Fc/file',
    );
  });
});
