/**
 * The whole fleet on a real 3-master Redis Cluster (`REDIS_CLUSTER_NODES`):
 * the product flow end to end, the queues spread over the masters, and a live
 * move of a queue's slot to another master under a steady stream of enqueues
 * that loses no accepted job.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CANCELLED_REASON, catalog, deadLetters, emails, reports } from '@jobfleet/queue-contracts';
import { type RedisCluster, startRedisCluster } from '@jobfleet/test-utils';
import { Queue, QueueEvents } from 'bullmq';
import { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Fleet, type RunningService, scrape, startFleet } from './support/fleet.js';
import { isBuilt, SERVICES, type ServiceSpec } from './support/services.js';
import { type SmtpSink, startSmtpSink } from './support/smtp-sink.js';

const RETRY_ADDRESS = 'cluster-retry-once@example.com';
const HOLD_ADDRESS = 'cluster-hold@example.com';
const FINISH_TIMEOUT_MS = 30_000;
const APPS = ['gateway', 'email-worker', 'report-worker', 'dlq-processor', 'dashboard'];

/** The catalog's queues plus `dead-letters`: each has its own hash tag. */
const QUEUES = [...Object.keys(catalog), deadLetters.name];

const welcome = (n: number) => ({ userId: n, to: `user${n}@example.com`, name: `User ${n}` });

/** Resolves with the first event of a queue that passes `test`, or rejects after the timeout. */
function eventOf<T extends { jobId: string }>(
  events: QueueEvents,
  name: 'completed' | 'failed',
  test: (event: T) => boolean,
  what: string,
): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      events.off(name, listener as never);
      reject(new Error(`no ${name} event for ${what} within ${FINISH_TIMEOUT_MS} ms`));
    }, FINISH_TIMEOUT_MS);
    const listener = (event: T) => {
      if (!test(event)) return;
      clearTimeout(timer);
      events.off(name, listener as never);
      resolve(event);
    };
    events.on(name, listener as never);
  });
}

describe('the fleet on Redis Cluster', () => {
  /**
   * The cluster is this test's own, so the prefix may be fixed: one whose three queues hash into the
   * three masters' ranges of a fresh cluster. Which master a queue lands on is up to the hash (with
   * `jobfleet`, emails, reports and dead-letters all start on the third master), so the README says
   * how to move a busy queue's slot.
   */
  const prefix = 'ops-cluster-3';
  const clients: Array<Cluster> = [];
  let cluster: RedisCluster;
  let admin: Cluster;
  let smtp: SmtpSink;
  let fleet: Fleet;
  let dataDir = '';
  const queueEvents = new Map<string, QueueEvents>();
  const queues = new Map<string, Queue>();

  const newClient = () => {
    const client = new Cluster(
      cluster.nodes.map(({ host, port }) => ({ host, port })),
      { redisOptions: { maxRetriesPerRequest: null } },
    );
    clients.push(client);
    return client;
  };
  const tag = (queue: string) => `{${prefix}:${queue}}`;
  const service = (app: string): RunningService => {
    const found = fleet.find(app);
    if (!found) throw new Error(`${app} does not run`);
    return found;
  };
  const events = (queue: string) => {
    const found = queueEvents.get(queue);
    if (!found) throw new Error(`no events for ${queue}`);
    return found;
  };
  const api = async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => {
    const response = await fetch(`${service('gateway').url}${path}`, {
      method,
      headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(10_000),
    });
    const text = await response.text();
    return { status: response.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
  };

  beforeAll(async () => {
    const specs = SERVICES.filter((spec) => APPS.includes(spec.app));
    const unbuilt = specs.filter((spec) => !isBuilt(spec)).map((spec) => spec.app);
    if (unbuilt.length > 0) throw new Error(`build these apps first (pnpm build): ${unbuilt.join(', ')}`);
    cluster = await startRedisCluster({ masters: 3 });
    admin = newClient();
    dataDir = mkdtempSync(join(tmpdir(), 'jobfleet-ops-cluster-'));
    smtp = await startSmtpSink({ failOnce: [RETRY_ADDRESS] });
    const reportsDir = join(dataDir, 'reports');
    // The gateway serves the report worker's files.
    const withReports = (spec: ServiceSpec): ServiceSpec =>
      spec.app === 'gateway'
        ? // The live-reshard stream is paced by the workers, not by the rate limit.
          { ...spec, env: (c) => ({ ...spec.env?.(c), REPORTS_DIR: reportsDir, RATE_LIMIT_MAX: '1000000' }) }
        : spec;
    fleet = await startFleet(specs.map(withReports), {
      redisUrl: '',
      redisEnv: { REDIS_CLUSTER_NODES: cluster.seeds },
      prefix,
      dataDir,
      smtpUrl: smtp.url,
    });
    for (const name of [emails.name, reports.name, deadLetters.name]) {
      queues.set(name, new Queue(name, { connection: admin, prefix: tag(name) }));
      // From the stream's start (the run's own prefix), so no event is missed before the first XREAD.
      const queueEventsOf = new QueueEvents(name, {
        connection: newClient(),
        prefix: tag(name),
        lastEventId: '0-0',
      });
      await queueEventsOf.waitUntilReady();
      queueEvents.set(name, queueEventsOf);
    }
  }, 120_000);

  afterAll(async () => {
    await Promise.all([...queueEvents.values(), ...queues.values()].map((c) => c.close().catch(() => {})));
    await fleet?.stop();
    await smtp?.close();
    for (const client of clients) client.disconnect();
    await cluster?.stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it('gives every queue its own hash tag, spread over at least two masters', async () => {
    const slots = await Promise.all(QUEUES.map((queue) => cluster.keySlot(tag(queue))));
    expect(new Set(slots).size).toBe(QUEUES.length);
    const owners = await Promise.all(slots.map((slot) => cluster.ownerOf(slot)));
    expect(new Set(owners.map((owner) => owner.id)).size).toBeGreaterThanOrEqual(2);
    // Each queue's keys really live on the master that owns its slot (asked directly, not through
    // the cluster client): the workers registered the queues under their tags (BullMQ's meta key).
    for (const [i, queue] of QUEUES.entries()) {
      const owner = owners[i];
      if (!owner) throw new Error(`no owner for ${queue}`);
      expect((await cluster.cli(['exists', `${tag(queue)}:${queue}:meta`], owner)).trim(), queue).toBe('1');
    }
  });

  it('runs the product flow: enqueue, batch, idempotency, retry, dead letter, redrive, cancel, schedules, reports', async () => {
    const completed = (queue: string, id: string) =>
      eventOf<{ jobId: string }>(events(queue), 'completed', (e) => e.jobId === id, `${queue} job ${id}`);

    // Enqueue, processed by the e-mail worker.
    const one = await api('POST', '/v1/queues/emails/jobs', { name: 'welcome', data: welcome(1) });
    expect(one.status, JSON.stringify(one.body)).toBe(202);
    const oneDone = completed('emails', String(one.body.id));

    // A batch, added in one round trip to the queue's slot.
    const batch = await api('POST', '/v1/queues/emails/jobs/batch', {
      jobs: [2, 3, 4].map((n) => ({ name: 'welcome', data: welcome(n) })),
    });
    expect(batch.status, JSON.stringify(batch.body)).toBe(202);
    const batchIds = (batch.body.jobs as Array<{ id: string }>).map((job) => job.id);
    expect(batchIds).toHaveLength(3);
    const batchDone = batchIds.map((id) => completed('emails', id));

    // Idempotency: the same key and body replay the first answer (200, the same job).
    const key = { 'idempotency-key': `cluster-${randomUUID()}` };
    const first = await api('POST', '/v1/queues/emails/jobs', { name: 'welcome', data: welcome(5) }, key);
    const again = await api('POST', '/v1/queues/emails/jobs', { name: 'welcome', data: welcome(5) }, key);
    expect(first.status).toBe(202);
    expect(again.status).toBe(200);
    expect(again.body.id).toBe(first.body.id);

    // A delivery the SMTP server refuses once: retried, then completed.
    const retried = await api('POST', '/v1/queues/emails/jobs', {
      name: 'notification',
      data: { to: RETRY_ADDRESS, subject: 'cluster', text: 'second attempt' },
      options: { attempts: 2, backoff: { type: 'fixed', delay: 10 } },
    });
    expect(retried.status, JSON.stringify(retried.body)).toBe(202);
    await Promise.all([oneDone, ...batchDone, completed('emails', String(retried.body.id))]);
    const retriedJob = await queues.get('emails')?.getJob(String(retried.body.id));
    expect(retriedJob?.attemptsMade).toBe(2);

    // A payload past the gateway's validation: dead-lettered, captured into `dead-letters` by the DLQ processor.
    const captured = eventOf<{ jobId: string }>(
      events(deadLetters.name),
      'completed',
      () => true,
      'a record',
    );
    const bad = await queues
      .get('emails')
      ?.add('welcome', { to: 'not-an-address' }, emails.defaultJobOptions);
    const record = await captured;
    const listed = await api('GET', '/v1/dead-letters?queue=emails&limit=10');
    expect(listed.status).toBe(200);
    const items = listed.body.items as Array<{ id: string; jobId: string }>;
    const stored = items.find((item) => item.jobId === bad?.id);
    expect(stored?.id).toBe(record.jobId);

    // Redrive with a fixed payload: claim in the dead-letters slot, add in the emails slot, finish in the first.
    const redriven = await api('POST', `/v1/dead-letters/${encodeURIComponent(stored?.id ?? '')}/redrive`, {
      data: welcome(6),
    });
    expect(redriven.status, JSON.stringify(redriven.body)).toBeLessThan(300);
    await completed('emails', String(redriven.body.jobId));
    const audited = await api('GET', `/v1/dead-letters/${encodeURIComponent(stored?.id ?? '')}`);
    expect((audited.body.redrive as { jobId: string } | undefined)?.jobId).toBe(redriven.body.jobId);

    // Cancel an active job: held at the SMTP server while the gateway signals its worker over pub/sub.
    const hold = smtp.hold(HOLD_ADDRESS);
    const held = await api('POST', '/v1/queues/emails/jobs', {
      name: 'notification',
      data: { to: HOLD_ADDRESS, subject: 'cluster', text: 'never sent' },
    });
    expect(held.status).toBe(202);
    const heldId = String(held.body.id);
    const cancelled = eventOf<{ jobId: string; failedReason: string }>(
      events('emails'),
      'failed',
      (e) => e.jobId === heldId,
      'the cancelled job',
    );
    await hold.held;
    const cancel = await api('DELETE', `/v1/queues/emails/jobs/${encodeURIComponent(heldId)}`);
    expect(cancel.status, JSON.stringify(cancel.body)).toBe(202);
    expect((await cancelled).failedReason).toBe(CANCELLED_REASON);
    hold.release();
    expect((await api('GET', `/v1/queues/emails/jobs/${encodeURIComponent(heldId)}`)).body.state).toBe(
      'cancelled',
    );

    // A schedule: its first run is processed, then it is removed.
    const scheduled = eventOf<{ jobId: string }>(
      events('emails'),
      'completed',
      (e) => e.jobId.startsWith('repeat:'),
      'a scheduled job',
    );
    const schedule = await api('PUT', '/v1/queues/emails/schedules/cluster-every-second', {
      name: 'welcome',
      data: welcome(7),
      everyMs: 1_000,
    });
    expect(schedule.status, JSON.stringify(schedule.body)).toBeLessThan(300);
    await scheduled;
    const listedSchedules = await api('GET', '/v1/queues/emails/schedules');
    expect(JSON.stringify(listedSchedules.body)).toContain('cluster-every-second');
    expect((await api('DELETE', '/v1/queues/emails/schedules/cluster-every-second')).status).toBe(204);

    // A report of today's usage (the ledger the workers write), its notice e-mailed through the
    // emails queue (another slot than the report's), and the file served by the gateway.
    const noticeSent = eventOf<{ jobId: string }>(
      events('emails'),
      'completed',
      (e) => e.jobId.startsWith('report-notice-'),
      'the report notice',
    );
    const report = await api('POST', '/v1/queues/reports/jobs', {
      name: 'daily-report',
      data: {
        tenantId: 'default',
        date: new Date().toISOString().slice(0, 10),
        format: 'csv',
        notify: 'ops@example.com',
      },
    });
    expect(report.status, JSON.stringify(report.body)).toBe(202);
    await completed('reports', String(report.body.id));
    expect((await noticeSent).jobId).toBe(`report-notice-${String(report.body.id)}`);
    const file = await fetch(
      `${service('gateway').url}/v1/reports/${encodeURIComponent(String(report.body.id))}/file`,
    );
    expect(file.status).toBe(200);
    expect((await file.text()).length).toBeGreaterThan(0);

    // The queue page and the dashboard's overview read every queue's slot.
    const summary = await api('GET', '/v1/queues/emails');
    expect(summary.status).toBe(200);
    expect((summary.body.counts as { completed: number }).completed).toBeGreaterThanOrEqual(6);
    const overview = await fetch(`${service('dashboard').url}/`);
    expect(overview.status).toBe(200);
    expect(await overview.text()).toContain('emails');
    const board = await fetch(
      `${service('dashboard').url}/admin/queues/api/queues?activeQueue=emails&status=completed&page=1&jobsPerPage=10`,
    );
    expect(board.status).toBe(200);
    const boardQueues = ((await board.json()) as { queues: Array<{ name: string; jobs: unknown[] }> }).queues;
    expect(boardQueues.find((queue) => queue.name === 'emails')?.jobs.length).toBeGreaterThan(0);

    // /metrics of every app, the gateway's queue gauges read from the cluster.
    for (const app of APPS) {
      const text = await scrape(service(app));
      expect(text, app).toContain('# TYPE ');
    }
    expect(await scrape(service('gateway'))).toMatch(
      /^jobfleet_queue_jobs\{[^}]*queue="emails"[^}]*state="completed"[^}]*\} [1-9]/m,
    );
  }, 120_000);

  it('keeps accepting and processing while the emails slot moves to another master, losing no accepted job', async () => {
    const pids = Object.fromEntries(APPS.map((app) => [app, service(app).pid]));
    const emailEvents = events('emails');
    const done = new Set<string>();
    let wake: (() => void) | undefined;
    /** Producers waiting for the backlog to shrink. */
    let waiting: Array<() => void> = [];
    const onCompleted = ({ jobId }: { jobId: string }) => {
      done.add(jobId);
      wake?.();
      const resume = waiting;
      waiting = [];
      for (const go of resume) go();
    };
    emailEvents.on('completed', onCompleted);
    const accepted: string[] = [];
    const refused: number[] = [];
    const unexpected: string[] = [];
    let moving = true;
    // Set when the move fails, so the producers end before the fleet does.
    let stopped = false;
    let acceptedAfterMove = 0;
    let n = 1_000;
    // A steady stream: each producer posts while fewer than MAX_BACKLOG accepted jobs wait, and
    // otherwise waits for the next completion (so the stream's pace is the workers').
    const MAX_BACKLOG = 40;
    const backlogShrunk = () =>
      new Promise<void>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`no e-mail job completed within ${FINISH_TIMEOUT_MS} ms`)),
          FINISH_TIMEOUT_MS,
        );
        waiting.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    const stream = async () => {
      while (!stopped && (moving || acceptedAfterMove < 20)) {
        while (accepted.filter((id) => !done.has(id)).length >= MAX_BACKLOG) await backlogShrunk();
        const response = await api('POST', '/v1/queues/emails/jobs', { name: 'welcome', data: welcome(n++) });
        if (response.status === 202) {
          accepted.push(String(response.body.id));
          if (!moving) acceptedAfterMove += 1;
        } else if (response.status === 503) refused.push(response.status);
        else unexpected.push(`${response.status} ${JSON.stringify(response.body)}`);
      }
    };
    const slot = await cluster.keySlot(tag(emails.name));
    const from = await cluster.ownerOf(slot);
    const to = cluster.nodes.find((node) => node.id !== from.id);
    if (!to) throw new Error('no other master');
    // Two producers, so requests are in flight while the slot moves.
    const producers = [stream(), stream()];
    // Some jobs exist before the move, so keys are migrated with the slot.
    while (accepted.length < 50) await new Promise((resolve) => setImmediate(resolve));
    const beforeMove = accepted.length;
    try {
      // `redis-cli --cluster reshard`, moving the owner's slots up to and including the emails slot.
      await cluster.reshard(slot, to);
    } catch (error) {
      stopped = true;
      await Promise.allSettled(producers);
      throw error;
    }
    const duringMove = accepted.length - beforeMove;
    moving = false;
    await Promise.all(producers);
    expect((await cluster.ownerOf(slot)).id).toBe(to.id);

    // Every accepted job completes (events as they come, then each job's state from Redis).
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        const missing = accepted.filter((id) => !done.has(id));
        reject(
          new Error(`${missing.length} accepted jobs not completed: ${missing.slice(0, 10).join(', ')}`),
        );
      }, FINISH_TIMEOUT_MS);
      wake = () => {
        if (accepted.every((id) => done.has(id))) {
          clearTimeout(timer);
          resolve();
        }
      };
      wake();
    });
    emailEvents.off('completed', onCompleted);
    const emailsQueue = queues.get('emails');
    const states = await Promise.all(accepted.map((id) => emailsQueue?.getJobState(id)));
    expect(states.filter((state) => state !== 'completed')).toEqual([]);
    expect(unexpected).toEqual([]);
    expect(refused.length).toBeLessThanOrEqual(5);
    // The stream really ran while the keys were migrating.
    expect(duringMove).toBeGreaterThan(0);
    console.info(
      `[redis-cluster] accepted ${accepted.length} (${duringMove} while the slot moved), 503: ${refused.length}`,
    );
    // Same processes throughout: nothing restarted.
    for (const app of APPS) {
      expect(service(app).alive(), app).toBe(true);
      expect(service(app).pid, app).toBe(pids[app]);
    }
  }, 120_000);
});
