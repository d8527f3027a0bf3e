import { createRequire } from 'node:module';
import { type RedisClient as BullRedisClient, Job, type JobsOptions, type Queue } from 'bullmq';

/**
 * How BullMQ sends one standard job (no custom id, delay, priority, parent or
 * deduplication) with given options: its `addStandardJob` script, the queue's
 * keys and the encoded options, learned once by letting BullMQ add a stand-in
 * job to a recording transaction. Only the job's name, timestamp and data
 * change from one job to the next.
 */
interface Template {
  readonly command: string;
  readonly keys: readonly (string | Buffer)[];
  readonly encodedOpts: string | Buffer;
  /** The msgpack of the script's argument list up to the name, per job name. */
  readonly heads: ReadonlyMap<string, Buffer>;
  /** The same script run for many jobs in one call, when this BullMQ's source of it is at hand. */
  readonly batch: BatchScript | undefined;
}

interface BatchScript {
  readonly name: string;
  readonly lua: string;
}

/**
 * Jobs per call of the batch script. Redis runs one script at a time, so a
 * call holds every other client up for all its jobs: a few milliseconds for a
 * hundred on a loaded host (see the README, Performance).
 */
const JOBS_PER_CALL = 100;

const require = createRequire(import.meta.url);

/**
 * BullMQ's `addStandardJob` script, as BullMQ itself defines it, run once for
 * each job of a call: ARGV holds each job's three arguments in turn, the keys
 * are the queue's. One call for a hundred jobs costs Redis and ioredis far less
 * than a hundred calls (the script's set-up and one command's parsing, reply
 * and promise per job). The source comes from the installed BullMQ (the module
 * its connections load their scripts from); `undefined` when that BullMQ keeps
 * it elsewhere or under another name: batches then send a call per job.
 */
function batchScriptFor(command: string, keyCount: number): BatchScript | undefined {
  try {
    const { addStandardJob: script } = require('bullmq/dist/cjs/scripts/index.js') as {
      addStandardJob?: { name: string; content: string; keys: number };
    };
    const [name, version, ...rest] = command.split(':');
    if (script?.name !== name || script?.keys !== keyCount || version === undefined || rest.length > 0) {
      return undefined;
    }
    // Each job's error is its own (a call may carry many requests' jobs): caught
    // and returned in its place as `{ message }`, the other jobs still added.
    // Redis raises a command's error inside a script as a table with `err`.
    const lua = [
      'local function addStandardJob(KEYS, ARGV)',
      script.content,
      'end',
      'local ids = {}',
      'for i = 1, #ARGV, 3 do',
      '  local ok, id = pcall(addStandardJob, KEYS, { ARGV[i], ARGV[i + 1], ARGV[i + 2] })',
      '  if not ok then',
      "    if type(id) == 'table' then id = id.err end",
      '    id = { tostring(id) }',
      '  end',
      '  ids[#ids + 1] = id',
      'end',
      'return ids',
    ].join('\n');
    return { name: `jobfleetAddStandardJobs:${version}`, lua };
  } catch {
    return undefined;
  }
}

/** The six nil arguments after the timestamp: parent key and dependencies, parent, repeat key, deduplication, deferral. */
const NILS = Buffer.alloc(6, 0xc0);

/** A msgpack string: the encoding msgpackr gives one of under 2^16 bytes. */
function packString(value: string): Buffer {
  const bytes = Buffer.from(value, 'utf8');
  const n = bytes.length;
  const header =
    n < 32 ? [0xa0 | n] : n < 256 ? [0xd9, n] : n < 65_536 ? [0xda, n >> 8, n & 0xff] : undefined;
  if (header === undefined) throw new RangeError('string too long for a job argument');
  return Buffer.concat([Buffer.from(header), bytes]);
}

/** The msgpack of `[prefix, '', name, timestamp, nil × 6]` as BullMQ's packer writes it. */
function packArgs(head: Buffer, timestamp: number): Buffer {
  const out = Buffer.allocUnsafe(head.length + 9 + NILS.length);
  head.copy(out, 0);
  // msgpackr writes a millisecond timestamp (above 2^32) as a float 64.
  out[head.length] = 0xcb;
  out.writeDoubleBE(timestamp, head.length + 1);
  NILS.copy(out, head.length + 9);
  return out;
}

/** The msgpack of the script's arguments before the timestamp: `[prefix, '', name`. */
const headOf = (queue: Queue, name: string) =>
  Buffer.concat([Buffer.from([0x9a]), packString(queue.keys[''] ?? ''), packString(''), packString(name)]);

/** A job BullMQ checks as it would check one it adds. */
class StandIn extends Job {
  check(json: ReturnType<Job['asJSON']>) {
    this.validateOptions(json);
  }
}

interface Recorded {
  command: string;
  args: unknown[];
  head: Buffer;
}

/** What BullMQ would send to add `name` with `opts`, recorded, not sent; checked against what the writer sends. */
function record(queue: Queue, name: string, opts: JobsOptions): Recorded {
  const job = new StandIn(queue, name, {}, { ...opts, jobId: undefined });
  const json = job.asJSON();
  job.check(json);
  let recorded: Omit<Recorded, 'head'> | undefined;
  const recorder = {
    runCommand(command: string, args: unknown[]) {
      recorded = { command, args };
      return Promise.resolve('1');
    },
  };
  // The command is queued before addJobToTransaction's first await, as for a real transaction.
  void queue.backend
    .addJobToTransaction(recorder as unknown as BullRedisClient, json, undefined as unknown as string, {})
    .catch(() => {});
  if (recorded === undefined) throw new Error('BullMQ queued no command');
  if (!recorded.command.startsWith('addStandardJob:')) throw new Error(`unexpected ${recorded.command}`);
  const packed = recorded.args.at(-3);
  const head = headOf(queue, name);
  if (!Buffer.isBuffer(packed) || !packed.equals(packArgs(head, job.timestamp))) {
    throw new Error('BullMQ packs its arguments differently');
  }
  if (recorded.args.at(-2) !== json.data) throw new Error('BullMQ sends the data differently');
  return { ...recorded, head };
}

const sameBytes = (a: unknown, b: unknown) =>
  Buffer.isBuffer(a) && Buffer.isBuffer(b) ? a.equals(b) : a === b;

/**
 * What BullMQ's add would send for a standard job with `opts`, for each of
 * `names`; `undefined` when the installed BullMQ sends anything else (its
 * script's arguments changed, say): the caller then adds through BullMQ.
 */
function templateFor(queue: Queue, opts: JobsOptions, names: readonly string[]): Template | undefined {
  try {
    const heads = new Map<string, Buffer>();
    let first: Recorded | undefined;
    for (const name of names) {
      const recorded = record(queue, name, opts);
      first ??= recorded;
      if (recorded.command !== first.command || !sameBytes(recorded.args.at(-1), first.args.at(-1))) {
        return undefined;
      }
      heads.set(name, recorded.head);
    }
    if (first === undefined) return undefined;
    const keys = first.args.slice(0, -3) as (string | Buffer)[];
    return {
      command: first.command,
      keys,
      encodedOpts: first.args.at(-1) as string | Buffer,
      heads,
      batch: batchScriptFor(first.command, keys.length),
    };
  } catch {
    return undefined;
  }
}

/**
 * A batch the writer cannot send straight to BullMQ's script (a job with
 * options of its own, say) goes through BullMQ: up to this many jobs with one
 * `add` each, sent together (the producer connection writes one turn's
 * commands at once); more with one `addBulk`. `addBulk` builds an ioredis
 * pipeline per call (ioredis copies every one of BullMQ's scripts onto each new
 * pipeline), which costs a small batch more than its jobs do (see the README,
 * Performance). BullMQ checks a job's options as it adds it, so separate adds
 * are all or nothing only because the body's schema refuses what BullMQ would
 * (custom ids, priority).
 */
const SEPARATE_ADDS_UP_TO = 10;

/** A job id from BullMQ's script; a negative number is its refusal, `[message]` the batch script's error for the job. */
function idOf(result: unknown): string {
  if (typeof result === 'number' && result < 0) throw new Error(`BullMQ refused the job (code ${result})`);
  if (Array.isArray(result)) throw new Error(String(result[0]));
  return String(result);
}

/** A single job waiting for the next call of the batch script. */
interface Waiting {
  readonly template: Template;
  readonly args: readonly [Buffer, string, string | Buffer];
  resolve(id: string): void;
  reject(error: unknown): void;
}

/** A job as the gateway adds it. */
export interface JobToAdd {
  readonly name: string;
  readonly data: unknown;
  readonly opts: JobsOptions;
  /**
   * `opts` is shared by many jobs, without a custom id, delay, priority,
   * parent or deduplication: the writer may learn once how BullMQ sends it.
   */
  readonly shared: boolean;
}

/**
 * Adds jobs to one queue. A standard job with shared options goes straight to
 * BullMQ's own `addStandardJob` script with what BullMQ would have sent, which
 * skips building a `Job` object, checking and encoding the same options again
 * for every job (5–12 % of a single-job request's CPU in the gateway, more of a batch's);
 * everything else, and every job while BullMQ telemetry is on (its producer
 * spans), goes through `queue.add` / `addBulk`. Jobs end up alike in Redis
 * either way (tested field by field). The single jobs of one turn of the event
 * loop (concurrent requests) share a call of the batch script, as a batch's
 * jobs do: every template of a writer has its queue's keys, and each job
 * carries its own options.
 */
export class JobWriter {
  readonly #queue: Queue;
  readonly #names: readonly string[];
  readonly #direct: boolean;
  readonly #templates = new WeakMap<JobsOptions, Template | null>();
  #client: BullRedisClient | undefined;
  #batchDefined = false;
  #waiting: Waiting[] = [];

  constructor(queue: Queue, jobNames: readonly string[], { telemetry }: { telemetry: boolean }) {
    this.#queue = queue;
    this.#names = jobNames;
    this.#direct = !telemetry;
  }

  #template(job: JobToAdd): Template | undefined {
    if (!this.#direct || !job.shared) return undefined;
    let template = this.#templates.get(job.opts);
    if (template === undefined) {
      template = templateFor(this.#queue, job.opts, this.#names) ?? null;
      this.#templates.set(job.opts, template);
    }
    return template?.heads.has(job.name) ? template : undefined;
  }

  /** BullMQ hands out its connection as a promise; awaited once, then kept. */
  async #connection(): Promise<BullRedisClient> {
    this.#client ??= await this.#queue.backend.client;
    return this.#client;
  }

  /** The three arguments of `job` after the keys, as BullMQ sends them. */
  #argsOf(template: Template, job: JobToAdd): Waiting['args'] {
    return [
      packArgs(template.heads.get(job.name) as Buffer, Date.now()),
      JSON.stringify(job.data === undefined ? {} : job.data),
      template.encodedOpts,
    ];
  }

  /** One job, one call of BullMQ's script. */
  async #send(template: Template, args: Waiting['args']): Promise<string> {
    const client = this.#client ?? (await this.#connection());
    return idOf(await client.runCommand(template.command, [...template.keys, ...args]));
  }

  /** One call of the batch script for up to {@link JOBS_PER_CALL} jobs; what it answered for each. */
  async #sendBatch(
    template: Template,
    batch: BatchScript,
    jobs: readonly Waiting['args'][],
  ): Promise<unknown[]> {
    const client = this.#client ?? (await this.#connection());
    if (!this.#batchDefined) {
      client.defineCommand(batch.name, { numberOfKeys: template.keys.length, lua: batch.lua });
      this.#batchDefined = true;
    }
    const results = await client.runCommand(batch.name, [...template.keys, ...jobs.flat()]);
    if (!Array.isArray(results) || results.length !== jobs.length) {
      throw new Error(`the batch script answered ${String(results)} for ${jobs.length} jobs`);
    }
    return results;
  }

  /**
   * Sends the single jobs that came in since the last turn of the event loop
   * (one request's each, from any key: all options travel with their job):
   * one call of the batch script per {@link JOBS_PER_CALL}, or BullMQ's own
   * script for a lone job. Each job gets its own answer.
   */
  readonly #flush = () => {
    const waiting = this.#waiting;
    this.#waiting = [];
    for (let at = 0; at < waiting.length; at += JOBS_PER_CALL) {
      void this.#sendWaiting(waiting.slice(at, at + JOBS_PER_CALL));
    }
  };

  async #sendWaiting(waiting: readonly Waiting[]): Promise<void> {
    const [first] = waiting as [Waiting, ...Waiting[]];
    try {
      if (waiting.length === 1) {
        first.resolve(await this.#send(first.template, first.args));
        return;
      }
      const batch = first.template.batch as BatchScript;
      const results = await this.#sendBatch(
        first.template,
        batch,
        waiting.map(({ args }) => args),
      );
      results.forEach((result, i) => {
        const job = waiting[i] as Waiting;
        try {
          job.resolve(idOf(result));
        } catch (error) {
          job.reject(error);
        }
      });
    } catch (error) {
      for (const job of waiting) job.reject(error);
    }
  }

  /** Whether `job` would go straight to BullMQ's script (else through `queue.add`). */
  sendsDirectly(job: JobToAdd): boolean {
    return this.#template(job) !== undefined;
  }

  /**
   * Adds one job; its id. A standard job waits for the end of this turn of
   * the event loop, to share a call with the other requests' jobs of the turn.
   */
  async add(job: JobToAdd): Promise<string> {
    const template = this.#template(job);
    if (template === undefined) return String((await this.#queue.add(job.name, job.data, job.opts)).id);
    const args = this.#argsOf(template, job);
    if (template.batch === undefined) return this.#send(template, args);
    return new Promise((resolve, reject) => {
      if (this.#waiting.push({ template, args, resolve, reject }) === 1) setImmediate(this.#flush);
    });
  }

  /**
   * Adds jobs in order (one connection runs its commands in the order sent);
   * their ids. All standard with the same shared options (a batch's jobs are
   * one key's): the batch script, or one command each, written together.
   * Otherwise all through BullMQ, so that none overtakes another.
   */
  async addAll(jobs: readonly JobToAdd[]): Promise<string[]> {
    const [first] = jobs;
    const template = first && this.#template(first);
    if (template && jobs.every((job) => this.#template(job) === template)) {
      const { batch } = template;
      const args = jobs.map((job) => this.#argsOf(template, job));
      if (batch === undefined || jobs.length === 1) {
        return Promise.all(args.map((one) => this.#send(template, one)));
      }
      const calls: Promise<unknown[]>[] = [];
      for (let at = 0; at < args.length; at += JOBS_PER_CALL) {
        calls.push(this.#sendBatch(template, batch, args.slice(at, at + JOBS_PER_CALL)));
      }
      return (await Promise.all(calls)).flat().map(idOf);
    }
    const queue = this.#queue;
    if (jobs.length <= SEPARATE_ADDS_UP_TO) {
      return Promise.all(
        jobs.map(async ({ name, data, opts }) => String((await queue.add(name, data, opts)).id)),
      );
    }
    const added = await this.#queue.addBulk(jobs.map(({ name, data, opts }) => ({ name, data, opts })));
    return added.map((job) => String(job.id));
  }
}
