import { emails, reports } from '@jobfleet/queue-contracts';
import { type Job, Queue, QueueEvents } from 'bullmq';
import { Redis } from 'ioredis';
import { type Fleet, type RunningService, scrape } from './fleet.js';
import { WORKER_OF_QUEUE } from './services.js';

export interface WorkloadOptions {
  fleet: Fleet;
  redisUrl: string;
  prefix: string;
  /** An address the test SMTP server refuses once (451), so its delivery is retried. */
  retryAddress: string;
}

const FINISH_TIMEOUT_MS = 20_000;

async function postJob(gateway: RunningService, queue: string, body: unknown): Promise<Response> {
  return fetch(`${gateway.url}/v1/queues/${queue}/jobs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
}

async function acceptedId(response: Response): Promise<string> {
  const body = (await response.json()) as { id?: string };
  if (response.status !== 202 || !body.id) {
    throw new Error(`the gateway did not accept a job: ${response.status} ${JSON.stringify(body)}`);
  }
  return body.id;
}

/** Resolves once the DLQ processor's counter shows a captured dead letter of `queue`. */
async function waitForDeadLetter(dlq: RunningService, queue: string): Promise<void> {
  const counted = new RegExp(
    `^jobfleet_dead_letters_total\\{[^}]*queue="${queue}"[^}]*\\} ([1-9][0-9.e+]*)$`,
    'm',
  );
  const deadline = Date.now() + FINISH_TIMEOUT_MS;
  // The processor records asynchronously and announces it only in its metrics: poll them.
  while (Date.now() < deadline) {
    if (counted.test(await scrape(dlq))) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`the DLQ processor did not count a dead letter of ${queue} within ${FINISH_TIMEOUT_MS} ms`);
}

/**
 * Runs a few jobs through the fleet so that label sets created on first use
 * appear in the scrapes: jobs accepted and refused by the gateway (its HTTP
 * and enqueue metrics), a completed e-mail and report, an e-mail delivery
 * retried once, and an e-mail job dead-lettered for its payload (then
 * captured by the DLQ processor). Waits only on the queues whose worker runs.
 */
export async function runWorkload({ fleet, redisUrl, prefix, retryAddress }: WorkloadOptions): Promise<void> {
  const connection = new Redis(redisUrl, { maxRetriesPerRequest: null });
  const queues = {
    emails: new Queue(emails.name, { connection, prefix }),
    reports: new Queue(reports.name, { connection, prefix }),
  };
  const events = {
    emails: new QueueEvents(emails.name, { connection: { url: redisUrl }, prefix }),
    reports: new QueueEvents(reports.name, { connection: { url: redisUrl }, prefix }),
  };
  try {
    await Promise.all(Object.values(events).map((e) => e.waitUntilReady()));
    const expected: Array<{ job: Job; queue: 'emails' | 'reports'; fails: boolean }> = [];
    const welcome = { userId: 1, to: 'ada@example.com', name: 'Ada' };
    const report = { tenantId: 'acme', format: 'csv' };

    const gateway = fleet.find('gateway');
    if (gateway) {
      const emailId = await acceptedId(await postJob(gateway, 'emails', { name: 'welcome', data: welcome }));
      const reportId = await acceptedId(
        await postJob(gateway, 'reports', { name: 'daily-report', data: report }),
      );
      const refused = await postJob(gateway, 'emails', { name: 'welcome', data: { to: 'nobody' } });
      if (refused.status !== 400) throw new Error(`an invalid payload got ${refused.status}, not 400`);
      await fetch(`${gateway.url}/v1/queues/emails/jobs/${encodeURIComponent(emailId)}`);
      for (const [queue, id] of [
        ['emails', emailId],
        ['reports', reportId],
      ] as const) {
        const job = await queues[queue].getJob(id);
        if (!job) throw new Error(`job ${id} of ${queue} is not in Redis`);
        expected.push({ job, queue, fails: false });
      }
    } else {
      expected.push(
        {
          job: await queues.emails.add('welcome', welcome, emails.defaultJobOptions),
          queue: 'emails',
          fails: false,
        },
        {
          job: await queues.reports.add('daily-report', report, reports.defaultJobOptions),
          queue: 'reports',
          fails: false,
        },
      );
    }
    // Straight into Redis, past the gateway's validation: the worker dead-letters it without a retry.
    expected.push({
      job: await queues.emails.add('welcome', { to: 'not-an-address' }, emails.defaultJobOptions),
      queue: 'emails',
      fails: true,
    });
    // Refused once by the SMTP server (451), then delivered: one retried and one completed attempt.
    expected.push({
      job: await queues.emails.add(
        'notification',
        { to: retryAddress, subject: 'ops-tests', text: 'Delivered on the second attempt.' },
        { ...emails.defaultJobOptions, attempts: 2, backoff: { type: 'fixed', delay: 10 } },
      ),
      queue: 'emails',
      fails: false,
    });

    await Promise.all(
      expected
        .filter(({ queue }) => fleet.find(WORKER_OF_QUEUE[queue] ?? ''))
        .map(async ({ job, queue, fails }) => {
          const outcome = await job.waitUntilFinished(events[queue], FINISH_TIMEOUT_MS).then(
            () => 'completed',
            (error: Error) => `failed: ${error.message}`,
          );
          if ((outcome === 'completed') === fails) {
            throw new Error(
              `${queue} job ${job.name} (${job.id}) ended ${outcome}, expected ${fails ? 'a failure' : 'completed'}`,
            );
          }
        }),
    );

    const dlq = fleet.find('dlq-processor');
    if (dlq && fleet.find('email-worker')) await waitForDeadLetter(dlq, 'emails');
    const dashboard = fleet.find('dashboard');
    if (dashboard) await fetch(`${dashboard.url}/`);
  } finally {
    await Promise.all([...Object.values(events), ...Object.values(queues)].map((c) => c.close()));
    await connection.quit();
  }
}
