import { redriveJobId } from '@jobfleet/dead-letter-store';
import { type DeadLetter, deadLetters, emails, toDeadLetter } from '@jobfleet/queue-contracts';
import { useTestRedis } from '@jobfleet/test-utils';
import { Queue } from 'bullmq';
import { afterEach, describe, expect, it } from 'vitest';
import { withoutRemoteStyleSheets } from '../src/boards.js';
import { DEAD_LETTER_BOARD_DESCRIPTION, deadLetterJobName } from '../src/dead-letter-board.js';
import { BOARD_PATH } from '../src/paths.js';
import { asUser, login, startDashboard } from './helpers.js';
import { emailQueue, FAILING_ADDRESS, startDeadLetterIndexer, startEmailWorker } from './jobs.js';

const redis = useTestRedis();
const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

const API = `${BOARD_PATH}/api/queues`;

/** A dashboard, a real e-mail worker, a DLQ-processor stand-in, and one dead-lettered welcome e-mail. */
async function setup() {
  const dashboard = await startDashboard(redis);
  cleanup.push(() => dashboard.close());
  const worker = startEmailWorker(redis);
  cleanup.push(() => worker.close());
  const indexer = startDeadLetterIndexer(redis);
  cleanup.push(() => indexer.close());
  const producer = await emailQueue(redis);
  cleanup.push(() => producer.close());
  const records = new Queue<DeadLetter>(deadLetters.name, {
    connection: { url: redis.url },
    prefix: redis.prefix,
  });
  cleanup.push(() => records.close());
  const failed = await producer.finished(FAILING_ADDRESS);
  expect(await failed.getState()).toBe('failed');
  const recordId = await indexer.nextRecord();
  expect(await records.getJobState(recordId)).toBe('completed');
  return {
    ...dashboard,
    worker,
    indexer,
    producer,
    records,
    recordId,
    admin: await login(dashboard.app, 'ops'),
    viewer: await login(dashboard.app, 'watcher'),
  };
}

interface BoardJob {
  name: string;
  externalUrl?: { href: string; displayText?: string };
  data: DeadLetter;
}

describe("bull-board's Retry on a dead-letter record", () => {
  it('redrives it: a new job with its payload in the source queue, the audit in the record, shown on the board', async () => {
    const { app, admin, worker, producer, records, recordId } = await setup();
    const job = async () =>
      (await app.inject({ url: `${API}/dead-letters/${recordId}`, headers: asUser(admin) })).json<{
        job: BoardJob;
        status: string;
      }>();
    const before = await job();
    expect(before.job.name).toBe('emails · welcome');
    expect(before.job.externalUrl).toBeUndefined();
    const record = await records.getJob(recordId);
    const processedOn = record?.processedOn;

    worker.failing = false;
    const newJobId = redriveJobId(recordId);
    const completed = producer.completion(newJobId);
    const startedAt = Date.now();
    const retry = await app.inject({
      method: 'PUT',
      url: `${API}/dead-letters/${recordId}/retry`,
      headers: asUser(admin),
    });
    expect(retry.statusCode).toBe(204);
    // The source job runs again, as a new job with the record's payload and the contract's attempts.
    await completed;
    const redriven = await producer.queue.getJob(newJobId);
    expect(redriven?.name).toBe('welcome');
    expect(redriven?.data).toEqual({ userId: 1, to: FAILING_ADDRESS });
    expect(redriven?.opts.attempts).toBe(emails.defaultJobOptions.attempts);

    // The record is not run again; it keeps who redrove it, when, and the new job's id.
    const after = await records.getJob(recordId);
    expect(await records.getJobState(recordId)).toBe('completed');
    expect(after?.processedOn).toBe(processedOn);
    expect(after?.data.redrive).toEqual({ by: 'dashboard:ops', at: expect.any(String), jobId: newJobId });
    const at = Date.parse(after?.data.redrive?.at ?? '');
    expect(at).toBeGreaterThanOrEqual(startedAt - 1_000);
    expect(at).toBeLessThanOrEqual(Date.now());

    // bull-board shows it: the name says so, and a link names who and when and leads to the new job.
    const shown = await job();
    expect(shown.job.name).toBe('emails · welcome · redriven');
    expect(shown.job.externalUrl?.href).toBe(`${BOARD_PATH}/queue/emails/${encodeURIComponent(newJobId)}`);
    expect(shown.job.externalUrl?.displayText).toBe(
      `redriven by dashboard:ops at ${new Date(at).toISOString().slice(0, 19).replace('T', ' ')} UTC as job ${newJobId}`,
    );
    const list = await app.inject({
      url: `${API}?activeQueue=dead-letters&status=completed&page=1&jobsPerPage=10`,
      headers: asUser(admin),
    });
    const queue = list
      .json<{ queues: Array<{ name: string; description: string; jobs: BoardJob[] }> }>()
      .queues.find((q) => q.name === deadLetters.name);
    expect(queue?.description).toBe(DEAD_LETTER_BOARD_DESCRIPTION);
    expect(queue?.jobs.map((j) => j.name)).toEqual(['emails · welcome · redriven']);

    // A second Retry redrives nothing and says why, in a form bull-board's UI shows.
    const again = await app.inject({
      method: 'PUT',
      url: `${API}/dead-letters/${recordId}/retry`,
      headers: asUser(admin),
    });
    expect(again.statusCode).toBe(409);
    expect(again.json()).toMatchObject({
      title: 'Already redriven',
      error: 'Already redriven',
      message: expect.stringContaining(`was redriven by dashboard:ops at ${after?.data.redrive?.at}`),
    });
    expect(await producer.queue.getJobCountByTypes('completed', 'waiting', 'active', 'delayed')).toBe(1);
  });

  it('Retry all on dead-letters redrives nothing, and points to the bulk redrive API', async () => {
    const { app, admin, producer, records, recordId } = await setup();
    const countsBefore = await producer.queue.getJobCounts();
    for (const status of ['completed', 'failed']) {
      const response = await app.inject({
        method: 'PUT',
        url: `${API}/dead-letters/retry/${status}`,
        headers: asUser(admin),
      });
      expect(response.statusCode).toBe(405);
      expect(response.json()).toMatchObject({
        error: 'Retry all does not redrive dead letters',
        message: expect.stringContaining('POST /v1/dead-letters/redrive'),
      });
    }
    expect(await records.getJobState(recordId)).toBe('completed');
    expect((await records.getJob(recordId))?.data.redrive).toBeUndefined();
    expect(await producer.queue.getJobCounts()).toEqual(countsBefore);
  });

  it("a viewer's Retry is refused, and the record is left alone", async () => {
    const { app, viewer, records, recordId } = await setup();
    const response = await app.inject({
      method: 'PUT',
      url: `${API}/dead-letters/${recordId}/retry`,
      headers: asUser(viewer),
    });
    expect(response.statusCode).toBe(403);
    expect((await records.getJob(recordId))?.data.redrive).toBeUndefined();
  });

  it('a record whose stored payload no longer fits is not redriven; the answer asks for replacement data', async () => {
    const dashboard = await startDashboard(redis);
    cleanup.push(() => dashboard.close());
    const indexer = startDeadLetterIndexer(redis);
    cleanup.push(() => indexer.close());
    const sources = new Queue(emails.name, { connection: { url: redis.url }, prefix: redis.prefix });
    cleanup.push(() => sources.close());
    const now = Date.now();
    const id = await indexer.store.capture(
      toDeadLetter({
        queueName: emails.name,
        id: '41',
        name: 'welcome',
        data: { userId: 1, to: 'not an address' },
        opts: {},
        failedReason: 'bad address',
        attemptsMade: 1,
        timestamp: now - 1_000,
        finishedOn: now,
      }),
    );
    const admin = await login(dashboard.app, 'ops');
    const response = await dashboard.app.inject({
      method: 'PUT',
      url: `${API}/dead-letters/${id}/retry`,
      headers: asUser(admin),
    });
    expect(response.statusCode).toBe(409);
    expect(response.json()).toMatchObject({
      error: 'Stored payload no longer fits',
      message: expect.stringContaining(
        `POST /v1/dead-letters/${encodeURIComponent(id)}/redrive with a "data" body`,
      ),
    });
    expect(await sources.count()).toBe(0);
  });

  it('a record redriven elsewhere (the gateway) shows it on the board too', async () => {
    const { app, admin, indexer, recordId } = await setup();
    await indexer.store.redrive(recordId, { by: 'ops-key' });
    const shown = (
      await app.inject({ url: `${API}/dead-letters/${recordId}`, headers: asUser(admin) })
    ).json<{
      job: BoardJob;
    }>();
    expect(shown.job.name).toBe('emails · welcome · redriven');
    expect(shown.job.externalUrl?.displayText).toMatch(
      /^redriven by ops-key at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC as job redrive\./,
    );
  });
});

describe('bull-board pages', () => {
  it('carry no link to a remote style sheet (the CSP would refuse it and log an error)', async () => {
    const dashboard = await startDashboard(redis);
    cleanup.push(() => dashboard.close());
    const admin = await login(dashboard.app, 'ops');
    for (const path of ['', '/queue/emails', '/queue/dead-letters/some-id']) {
      const page = await dashboard.app.inject({ url: `${BOARD_PATH}${path}`, headers: asUser(admin) });
      expect(page.statusCode).toBe(200);
      expect(page.body).toContain('static/css/');
      expect(page.body).not.toMatch(/<link[^>]*href="https?:/);
    }
  });

  it('withoutRemoteStyleSheets keeps local links and drops remote style sheets, whatever the attribute order', () => {
    const page = [
      '<link rel="icon" href="static/favicon.ico">',
      '<link href="https://fonts.example/css?x=1&y=2" rel="stylesheet">',
      '<link rel="stylesheet" href="//cdn.example/a.css">',
      '<link href="static/css/main.css" rel="stylesheet">',
    ].join('\n');
    expect(withoutRemoteStyleSheets(page)).toBe(
      '<link rel="icon" href="static/favicon.ico">\n<link href="static/css/main.css" rel="stylesheet">',
    );
  });

  it('deadLetterJobName falls back to the job name for data that is not a record', () => {
    expect(deadLetterJobName({ name: 'dead-letter', data: { something: 'else' } })).toBe('dead-letter');
    expect(deadLetterJobName({ name: 'dead-letter', data: 'not json' })).toBe('dead-letter');
  });
});
