import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { emails } from '@jobfleet/queue-contracts';
import { useTestRedis } from '@jobfleet/test-utils';
import type { HandlerMap } from '@jobfleet/worker-runtime';
import { Queue, QueueEvents } from 'bullmq';
import { simpleParser } from 'mailparser';
import { afterEach, describe, expect, it } from 'vitest';
import { startInProcessWorker } from './start-worker.js';

const redis = useTestRedis();
const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

async function setup(wrap?: (handlers: HandlerMap<typeof emails>) => HandlerMap<typeof emails>) {
  const outboxDir = mkdtempSync(join(tmpdir(), 'email-delivery-'));
  cleanup.push(() => rmSync(outboxDir, { recursive: true, force: true }));
  const queue = new Queue(emails.name, { connection: redis.connection(), prefix: redis.prefix });
  const events = new QueueEvents(emails.name, { connection: { url: redis.url }, prefix: redis.prefix });
  cleanup.push(
    () => queue.close(),
    () => events.close(),
  );
  await events.waitUntilReady();
  const worker = await startInProcessWorker({ redisUrl: redis.url, prefix: redis.prefix, outboxDir, wrap });
  cleanup.push(() => worker.close());
  return { outboxDir, queue, events, worker };
}

describe('email delivery through the outbox', () => {
  it('turns a welcome job into exactly one .eml with text and escaped HTML parts', async () => {
    const { outboxDir, queue, events } = await setup();
    const job = await queue.add(
      'welcome',
      { userId: 123, to: 'ada@example.com', name: '<b>x</b>' },
      emails.defaultJobOptions,
    );
    const result = await job.waitUntilFinished(events, 10_000);
    const messageId = `<emails.${job.id}.${job.timestamp}@jobfleet.local>`;
    expect(result).toEqual({ messageId, transport: 'outbox' });

    const files = readdirSync(outboxDir);
    expect(files).toEqual([`emails.${job.id}.${job.timestamp}@jobfleet.local.eml`]);
    const mail = await simpleParser(readFileSync(join(outboxDir, files[0] ?? '')));
    expect(mail.messageId).toBe(messageId);
    expect(mail.from?.value).toEqual([{ name: 'jobfleet', address: 'no-reply@jobfleet.local' }]);
    expect(mail.to).toMatchObject({ value: [{ address: 'ada@example.com', name: '' }] });
    expect(mail.subject).toBe('Welcome to jobfleet');
    expect(mail.headers.get('content-type')).toMatchObject({ value: 'multipart/alternative' });
    expect(mail.text).toContain('Hi <b>x</b>,');
    expect(mail.html).toEqual(expect.any(String));
    expect(mail.html).toContain('&lt;b&gt;x&lt;/b&gt;');
    expect(mail.html).not.toContain('<b>x</b>');
  });

  it('does not duplicate when a job runs again after its e-mail was written (ledger, and the file is keyed by Message-ID)', async () => {
    // The first attempt delivers, then fails before BullMQ records the success: a crash at the worst moment.
    let attempts = 0;
    const { outboxDir, queue, events } = await setup((handlers) => ({
      ...handlers,
      welcome: async (data, context) => {
        const result = await handlers.welcome(data, context);
        attempts += 1;
        if (attempts === 1) throw new Error('lost the acknowledgement');
        return result;
      },
    }));
    const job = await queue.add(
      'welcome',
      { userId: 1, to: 'ada@example.com' },
      { ...emails.defaultJobOptions, backoff: { type: 'fixed', delay: 10 } },
    );
    const result = await job.waitUntilFinished(events, 10_000);
    expect(attempts).toBe(2);
    expect(readdirSync(outboxDir)).toEqual([`${result.messageId.slice(1, -1)}.eml`]);
  });

  it('reports the outbox in /health/ready', async () => {
    const { worker } = await setup();
    const response = await fetch(`${worker.metricsUrl}/health/ready`);
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({
      status: 'ok',
      checks: expect.arrayContaining([{ name: 'outbox', ok: true }]),
    });
  });
});
