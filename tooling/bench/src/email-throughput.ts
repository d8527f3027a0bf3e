import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { isMainThread, parentPort, Worker as Thread, workerData } from 'node:worker_threads';
import {
  createEmailHandlers,
  createRedisDeliveryLedger,
  createSmtpTransport,
  domainOf,
  emailMetrics,
  JOBS_PER_SMTP_CONNECTION,
  messageIdFor,
  parseMailbox,
  renderWelcome,
} from '@jobfleet/email-worker';
import { emails } from '@jobfleet/queue-contracts';
import { createLogger, createMetricsRegistry } from '@jobfleet/service-kit';
import { createWorkerRuntime } from '@jobfleet/worker-runtime';
import { Queue } from 'bullmq';
import nodemailer from 'nodemailer';
import type { RedisTarget } from './redis-target.js';
import { createSmtpSink } from './smtp-sink.js';
import { drive, formatRate, median } from './stats.js';

/**
 * Messages per second through the email worker (BullMQ, the delivery ledger,
 * templates, the pooled SMTP transport) against nodemailer's pooled transport
 * sending the same welcome messages directly, as many at a time as the worker
 * runs jobs, both to one local SMTP sink.
 *
 * The sink ({@link createSmtpSink}) runs in its own thread, so it takes no
 * time from the side's event loop, as a real mail server would not; it accepts
 * every message and keeps none, and greets a new connection at once (the pool
 * replaces each after 100 messages). Both sides use the worker's default pool
 * (5 connections, 100 messages each). Two sinks are measured: one that answers at once, where
 * sending is pure CPU and every cost of the worker shows; and one that takes
 * 20 ms to accept each message, as a nearby relay does (providers take
 * longer), where the question is whether the worker keeps the pool busy.
 * nodemailer's pool runs on the bench's main thread, as in an application
 * that uses it directly; the worker runs its pool in its SMTP sender thread,
 * as in production, so it has two threads to nodemailer's one (on two cores
 * they share the machine with the sink and Redis); each run's CPU per message
 * is reported beside the rates.
 * Each side is set up once and kept for every run, as a running service keeps
 * its connections: a worker made afresh for each run spent the first 120–190
 * ms of its run of about 1.5 s connecting and loading BullMQ's scripts, which
 * a worker does once per process.
 */

const SINK_ROLE = 'jobfleet-email-sink';
const FROM = parseMailbox('jobfleet <no-reply@jobfleet.local>');
const BRAND = { appName: 'jobfleet', appUrl: 'https://app.example.com' };
const POOL = { maxConnections: 5, maxMessages: 100 };

type SinkRequest = { type: 'count' } | { type: 'delay'; ms: number };
type SinkMessage = { type: 'listening'; port: number } | { type: 'count'; count: number };

/** The sink thread: {@link createSmtpSink}, counting messages, with the reply delay the main thread sets. */
function runSink(): void {
  let count = 0;
  let delayMs = 0;
  const server = createSmtpSink({
    replyDelayMs: () => delayMs,
    onMessage: () => {
      count += 1;
    },
  });
  server.listen(0, '127.0.0.1', () => {
    const { port } = server.address() as AddressInfo;
    parentPort?.postMessage({ type: 'listening', port } satisfies SinkMessage);
  });
  parentPort?.on('message', (request: SinkRequest) => {
    if (request.type === 'delay') delayMs = request.ms;
    parentPort?.postMessage({ type: 'count', count } satisfies SinkMessage);
  });
}

if (!isMainThread && (workerData as { role?: string } | undefined)?.role === SINK_ROLE) runSink();

export interface Sink {
  port: number;
  /** Messages accepted so far. */
  count(): Promise<number>;
  /** From now on, wait this long before accepting each message. */
  delay(ms: number): Promise<void>;
  close(): Promise<void>;
}

export async function startSink(): Promise<Sink> {
  const thread = new Thread(new URL(import.meta.url), { workerData: { role: SINK_ROLE } });
  // Requests are answered in order, so one queue of waiters matches answers to questions.
  const waiting: Array<{ resolve(message: SinkMessage): void; reject(error: Error): void }> = [];
  thread.on('message', (message: SinkMessage) => waiting.shift()?.resolve(message));
  thread.on('error', (error) => {
    for (const waiter of waiting.splice(0)) waiter.reject(error);
  });
  const next = () => new Promise<SinkMessage>((resolve, reject) => void waiting.push({ resolve, reject }));
  const listening = await next();
  if (listening.type !== 'listening') throw new Error('the SMTP sink did not start');
  return {
    port: listening.port,
    async count() {
      const answer = next();
      thread.postMessage({ type: 'count' } satisfies SinkRequest);
      const message = await answer;
      return message.type === 'count' ? message.count : Number.NaN;
    },
    async delay(ms) {
      const answer = next();
      thread.postMessage({ type: 'delay', ms } satisfies SinkRequest);
      await answer;
    },
    close: async () => void (await thread.terminate()),
  };
}

type Variant = 'worker' | 'direct';

const welcome = (i: number) => ({ userId: i, to: `user-${i}@example.com`, name: `User ${i}` });

/** What one run of a side measured, over its timed window only. */
interface Measured {
  perSecond: number;
  /** This process's CPU over the window (µs), every thread of it. */
  cpuUs: number;
}

/**
 * One contestant, set up once and kept for every run: `run(count)` sends
 * `count` welcome messages.
 */
interface Side {
  run(count: number): Promise<Measured>;
  close(): Promise<void>;
}

/**
 * nodemailer's pooled transport sending each run's messages with `inFlight`
 * of them handed to it at a time, as many as the worker runs jobs at once:
 * handed a whole run at once, its queue grows with the run, and its rate
 * came to depend on the run's size.
 */
function directSide(port: number, inFlight: number): Side {
  const transporter = nodemailer.createTransport({ pool: true, host: '127.0.0.1', port, ...POOL });
  const domain = domainOf(FROM.address);
  const send = (i: number, createdAt: number) => {
    const data = welcome(i);
    const rendered = renderWelcome(data, BRAND);
    return transporter.sendMail({
      from: { name: FROM.name, address: FROM.address },
      to: data.to,
      ...rendered,
      messageId: messageIdFor({ queue: emails.name, jobId: String(i), createdAt, domain }),
      headers: { 'Auto-Submitted': 'auto-generated' },
    });
  };
  return {
    async run(messages) {
      const createdAt = Date.now();
      const { seconds, cpuUs } = await drive(messages, inFlight, async (i) => {
        await send(i, createdAt);
      });
      return { perSecond: messages / seconds, cpuUs };
    },
    async close() {
      transporter.close();
    },
  };
}

/**
 * The email worker (its runtime, delivery ledger and pooled SMTP transport),
 * draining each run's welcome jobs. They are added while the queue is paused
 * and the clock starts as it resumes, so a run times the worker's draining
 * alone, not the producer's adds.
 */
async function workerSide(target: RedisTarget, port: number, concurrency: number): Promise<Side> {
  const prefix = `bench-email-${randomUUID().slice(0, 8)}`;
  const producer = target.connect('worker');
  const queue = new Queue(emails.name, {
    connection: producer,
    prefix: target.prefix(producer, prefix, emails.name),
  });
  await queue.pause();
  const connection = target.connect('worker');
  const registry = createMetricsRegistry();
  const metrics = emailMetrics(registry);
  const transport = createSmtpTransport({
    endpoint: { secure: false, host: '127.0.0.1', port },
    ...POOL,
    metrics,
  });
  const runtime = createWorkerRuntime({
    contract: emails,
    handlers: createEmailHandlers({
      transport,
      ledger: createRedisDeliveryLedger({ connection }),
      metrics,
      from: FROM,
      brand: BRAND,
    }),
    connection,
    prefix,
    logger: createLogger({ service: 'bench', level: 'silent' }),
    registry,
    concurrency,
  });
  // The run in progress: how many of its jobs ended, and what to call when all have.
  let current = { expected: 0, done: 0, failed: 0, settle: () => {} };
  const ended = (outcome: 'done' | 'failed') => {
    current[outcome] += 1;
    if (current.done + current.failed === current.expected) current.settle();
  };
  runtime.worker.on('completed', () => ended('done'));
  runtime.worker.on('failed', () => ended('failed'));
  let added = 0;
  return {
    async run(messages) {
      for (let i = 0; i < messages; i += 1_000) {
        const size = Math.min(1_000, messages - i);
        await queue.addBulk(
          Array.from({ length: size }, (_, k) => ({
            name: 'welcome',
            data: welcome(added + i + k),
            opts: { ...emails.defaultJobOptions },
          })),
        );
      }
      added += messages;
      const run = { expected: messages, done: 0, failed: 0, settle: () => {} };
      const finished = new Promise<void>((resolve) => {
        run.settle = resolve;
      });
      current = run;
      const started = performance.now();
      const cpu = process.cpuUsage();
      await queue.resume();
      await finished;
      const seconds = (performance.now() - started) / 1000;
      const used = process.cpuUsage(cpu);
      await queue.pause();
      if (run.failed > 0) throw new Error(`${run.failed} of ${messages} e-mail jobs failed in the benchmark`);
      return { perSecond: messages / seconds, cpuUs: used.user + used.system };
    },
    async close() {
      await runtime.close();
      await transport.close();
      await queue.obliterate({ force: true });
      await queue.close();
      connection.disconnect();
      producer.disconnect();
    },
  };
}

export interface EmailThroughputResult {
  /** How long the sink took to accept each message. */
  replyDelayMs: number;
  messages: number;
  concurrency: number;
  /** Messages per second through the email worker (median of the rounds). */
  worker: number;
  /** Messages per second through nodemailer's pooled transport alone (median). */
  direct: number;
  /** worker / direct, paired per round, median over rounds. */
  ratio: number;
  /**
   * CPU (µs) per message of this process over the timed window, all its
   * threads (the sink's too, the same for both sides; the worker's SMTP sender
   * thread), median of the rounds. Redis's CPU is not in it.
   */
  cpuPerMessageUs: Record<Variant, number>;
  /** The lowest and highest per-round ratio. */
  ratioRange: [number, number];
}

export interface EmailThroughputOptions {
  /** Messages per run with the sink that answers at once; half as many with the slow sink. */
  messages: number;
  rounds: number;
  /** The worker's `WORKER_CONCURRENCY` (default: the email worker's, 8 jobs per pooled connection). */
  concurrency?: number;
  /** The sinks' reply delays (default: 0 and 20 ms). */
  replyDelaysMs?: readonly number[];
}

/**
 * The email worker against nodemailer's pooled transport, for each sink, in
 * interleaved rounds (direct first in even rounds, the worker first in odd
 * ones) after one unmeasured full-size warm-up of each; reports medians (the ratio: of the
 * per-round ratios). Checks that the
 * sink received every message of every run, so a lost message cannot pass
 * for speed.
 */
export async function emailThroughput(
  target: RedisTarget,
  options: EmailThroughputOptions,
): Promise<EmailThroughputResult[]> {
  const {
    rounds,
    concurrency = JOBS_PER_SMTP_CONNECTION * POOL.maxConnections,
    replyDelaysMs = [0, 20],
  } = options;
  const sink = await startSink();
  const opened: Side[] = [];
  try {
    const direct = directSide(sink.port, concurrency);
    opened.push(direct);
    const worker = await workerSide(target, sink.port, concurrency);
    opened.push(worker);
    const sides: Record<Variant, Side> = { direct, worker };
    const run = async (variant: Variant, count: number) => {
      const before = await sink.count();
      const measured = await sides[variant].run(count);
      const received = (await sink.count()) - before;
      if (received !== count)
        throw new Error(`${variant}: the sink received ${received} of ${count} messages`);
      return { rate: measured.perSecond, cpuPerMessageUs: measured.cpuUs / count };
    };
    const results: EmailThroughputResult[] = [];
    for (const replyDelayMs of replyDelaysMs) {
      await sink.delay(replyDelayMs);
      const messages = replyDelayMs > 0 ? Math.ceil(options.messages / 2) : options.messages;
      // Full-size warm-ups: nodemailer and BullMQ run several times faster once the JIT has seen them.
      await run('direct', messages);
      await run('worker', messages);
      const rates: Record<Variant, number[]> = { worker: [], direct: [] };
      const cpu: Record<Variant, number[]> = { worker: [], direct: [] };
      for (let round = 0; round < rounds; round++) {
        const order: Variant[] = round % 2 === 0 ? ['direct', 'worker'] : ['worker', 'direct'];
        for (const variant of order) {
          const measured = await run(variant, messages);
          rates[variant].push(measured.rate);
          cpu[variant].push(measured.cpuPerMessageUs);
        }
      }
      // Paired per round, as the other parts: a slow moment of a shared machine hits both runs of a round.
      const ratios = rates.worker.map((rate, i) => rate / (rates.direct[i] ?? Number.NaN));
      results.push({
        replyDelayMs,
        messages,
        concurrency,
        worker: median(rates.worker),
        direct: median(rates.direct),
        ratio: median(ratios),
        ratioRange: [Math.min(...ratios), Math.max(...ratios)],
        cpuPerMessageUs: { worker: median(cpu.worker), direct: median(cpu.direct) },
      });
    }
    return results;
  } finally {
    await Promise.all(opened.map((side) => side.close()));
    await sink.close();
  }
}

/** One line per sink: both rates and the ratio, against `target`. */
export function describeEmailThroughput(results: readonly EmailThroughputResult[], target = 0.85): string {
  const rate = (value: number) => formatRate(value).replace('jobs/s', 'messages/s');
  return results
    .map((result) => {
      const sink =
        result.replyDelayMs > 0 ? `sink accepting after ${result.replyDelayMs} ms` : 'sink accepting at once';
      const verdict = result.ratio >= target ? `target ≥ ${target}: met` : `target ≥ ${target}: MISSED`;
      const cpu = (variant: Variant) =>
        `${Math.round(result.cpuPerMessageUs[variant]).toLocaleString('en-US')} µs`;
      return `e-mail over SMTP, ${sink}, ${result.messages} welcome messages per run, ${result.concurrency} at a time: nodemailer pool ${rate(result.direct)}, email worker ${rate(result.worker)}, worker/direct ${result.ratio.toFixed(2)} (rounds ${result.ratioRange.map((r) => r.toFixed(2)).join('–')}; ${verdict}); CPU per message in the bench process (sink thread included, Redis not): nodemailer pool ${cpu('direct')}, email worker ${cpu('worker')}`;
    })
    .join('\n');
}
