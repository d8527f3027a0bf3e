import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { emails } from '@jobfleet/queue-contracts';
import { generateWebhookSecret } from '@jobfleet/service-kit';
import { freePort, useTestRedis } from '@jobfleet/test-utils';
import { Queue, QueueEvents } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startInProcessWorker } from './start-worker.js';

/** The README's endpoint, run as it is with the machine's python3. */
const ENDPOINT = fileURLToPath(new URL('../examples/endpoint.py', import.meta.url));

describe("the README's Python endpoint (examples/endpoint.py)", () => {
  const redis = useTestRedis();
  const secret = generateWebhookSecret();
  let python: ChildProcess;
  let url: string;
  let output = '';

  beforeAll(async () => {
    const port = await freePort();
    python = spawn('python3', [ENDPOINT], {
      env: { PATH: process.env.PATH ?? '', PORT: String(port), HTTP_WORKER_SECRET: secret },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    python.stderr?.on('data', () => {}); // http.server's access log
    const listening = new Promise<void>((resolve, reject) => {
      python.stdout?.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        if (output.includes('listening on')) resolve();
      });
      python.once('exit', (code) => reject(new Error(`python3 exited with ${code}:\n${output}`)));
    });
    await listening;
    url = `http://127.0.0.1:${port}/`;
  });

  afterAll(async () => {
    if (python.exitCode === null) {
      python.kill();
      await once(python, 'exit');
    }
  });

  async function run(workerSecret: string) {
    const worker = await startInProcessWorker({
      redisUrl: redis.url,
      prefix: redis.prefix,
      env: { HTTP_WORKER_QUEUES: 'emails', HTTP_WORKER_URL: url, HTTP_WORKER_SECRET: workerSecret },
    });
    const queue = new Queue(emails.name, { connection: redis.connection(), prefix: redis.prefix });
    const events = new QueueEvents(emails.name, { connection: { url: redis.url }, prefix: redis.prefix });
    await events.waitUntilReady();
    return {
      queue,
      events,
      async close() {
        await worker.close();
        await Promise.all([queue.close(), events.close()]);
      },
    };
  }

  it('processes pushed jobs and answers results the contract accepts', async () => {
    const { queue, events, close } = await run(secret);
    try {
      const jobs = await Promise.all([
        queue.add(
          'welcome',
          { userId: 1, to: 'ada@example.com' },
          { ...emails.defaultJobOptions, jobId: randomUUID() },
        ),
        queue.add(
          'notification',
          { to: 'grace@example.com', subject: 'Hi', text: 'Hello' },
          { ...emails.defaultJobOptions, jobId: randomUUID() },
        ),
      ]);
      const results = await Promise.all(jobs.map((job) => job.waitUntilFinished(events, 15_000)));
      expect(results).toEqual(
        jobs.map((job) => ({ messageId: `<${job.id}@example.com>`, transport: 'smtp' })),
      );
      expect(output).toContain('welcome e-mail to ada@example.com, attempt 1');
      expect(output).toContain('notification e-mail to grace@example.com, attempt 1');
    } finally {
      await close();
    }
  });

  it('refuses a request signed with another secret: the job fails for good', async () => {
    const { queue, events, close } = await run(generateWebhookSecret());
    try {
      const job = await queue.add(
        'welcome',
        { userId: 2, to: 'eve@example.com' },
        { ...emails.defaultJobOptions, jobId: randomUUID() },
      );
      await expect(job.waitUntilFinished(events, 15_000)).rejects.toThrow(/^the endpoint answered 401/);
      expect((await queue.getJob(job.id ?? ''))?.attemptsMade).toBe(1);
      expect(output).not.toContain('eve@example.com');
    } finally {
      await close();
    }
  });
});

describe('the READMEs', () => {
  it.each(['../README.md', '../../../README.md'])('%s shows examples/endpoint.py as it is', (path) => {
    const readme = readFileSync(fileURLToPath(new URL(path, import.meta.url)), 'utf8');
    expect(readme).toContain(`\`\`\`python\n${readFileSync(ENDPOINT, 'utf8')}\`\`\``);
  });
});
