import { type DeadLetter, type DeadLetterStore, LuaScript } from '@jobfleet/dead-letter-store';

/**
 * One step of the shared spike detector, atomic in Redis so every DLQ
 * processor sees one window and one cooldown: adds the record to its queue's
 * window (a sorted set by failure time; a record seen twice counts once),
 * drops what fell out of the window (by Redis's clock), and when the window
 * holds at least the threshold and no cooldown runs, starts the cooldown and
 * answers "fire". Only the processor that set the cooldown sends the alert.
 *
 * KEYS: 1 window, 2 cooldown
 * ARGV: 1 record id, 2 failure time (ms), 3 window (ms), 4 threshold, 5 cooldown (ms)
 * Returns {fire (0|1), count in window, now (ms)}.
 */
const spikeScript = new LuaScript(
  'dlq-spike',
  `
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local from = now - tonumber(ARGV[3])
if tonumber(ARGV[2]) >= from then redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1]) end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. from)
redis.call('PEXPIRE', KEYS[1], ARGV[3])
local count = redis.call('ZCARD', KEYS[1])
if count < tonumber(ARGV[4]) then return {0, count, now} end
if not redis.call('SET', KEYS[2], now, 'PX', ARGV[5], 'NX') then return {0, count, now} end
return {1, count, now}
`,
);

export interface SpikeSettings {
  threshold: number;
  windowMs: number;
  cooldownMs: number;
}

/** The JSON POSTed to the webhook: Slack-compatible `text`, plus the facts for other receivers. */
export interface SpikeAlert {
  text: string;
  queue: string;
  /** Dead letters of the queue in the window when the alert fired. */
  count: number;
  threshold: number;
  windowSeconds: number;
  cooldownSeconds: number;
  /** Records of the queue kept now. */
  totalRecords: number;
  /** Job names among the most recent dead letters of the window, with their counts. */
  jobNames: Record<string, number>;
  /** A few distinct failure reasons, newest first (first line, shortened). */
  sampleReasons: string[];
  /** A few record ids, for the dead-letter API. */
  sampleRecordIds: string[];
  /** When the window began and when the alert fired (ISO). */
  windowStart: string;
  firedAt: string;
}

const SAMPLED_RECORDS = 100;
const SAMPLE_REASONS = 3;
const REASON_LENGTH = 200;

function shortReason(reason: string): string {
  const line = reason.split('\n', 1)[0]?.trim() ?? '';
  return line.length > REASON_LENGTH ? `${line.slice(0, REASON_LENGTH - 1)}…` : line;
}

function describeWindow(ms: number): string {
  if (ms % 60_000 === 0) return `${ms / 60_000} min`;
  return `${Math.round(ms / 1_000)} s`;
}

export class SpikeDetector {
  constructor(
    private readonly store: DeadLetterStore,
    private readonly settings: SpikeSettings,
  ) {}

  /** Counts a record; resolves to the alert to send when this record made the queue spike. */
  async observe(id: string, record: Pick<DeadLetter, 'queue' | 'failedAt'>): Promise<SpikeAlert | undefined> {
    const { threshold, windowMs, cooldownMs } = this.settings;
    const { keys, client } = this.store;
    const [fire, count, now] = (await spikeScript.run(
      client,
      [keys.alertWindow(record.queue), keys.alertCooldown(record.queue)],
      [id, Date.parse(record.failedAt), windowMs, threshold, cooldownMs],
    )) as [number, number, number];
    if (fire !== 1) return undefined;
    return this.describe(record.queue, count, now);
  }

  private async describe(queue: string, count: number, now: number): Promise<SpikeAlert> {
    const { threshold, windowMs, cooldownMs } = this.settings;
    const { keys, client } = this.store;
    const ids = await client.zrevrange(keys.alertWindow(queue), 0, SAMPLED_RECORDS - 1);
    const records = (await this.store.load(ids)).filter((r) => r !== undefined);
    const jobNames: Record<string, number> = {};
    const reasons: string[] = [];
    for (const { record } of records) {
      jobNames[record.jobName] = (jobNames[record.jobName] ?? 0) + 1;
      const reason = shortReason(record.failedReason);
      if (reasons.length < SAMPLE_REASONS && !reasons.includes(reason)) reasons.push(reason);
    }
    const totalRecords = await this.store.count(queue);
    const window = describeWindow(windowMs);
    const names = Object.entries(jobNames)
      .sort((a, b) => b[1] - a[1])
      .map(([name, n]) => `${name} ×${n}`)
      .join(', ');
    const text = [
      `:rotating_light: jobfleet: ${count} jobs of queue \`${queue}\` were dead-lettered in the last ${window} (threshold ${threshold}).`,
      names ? `Job names: ${names}.` : '',
      reasons.length > 0 ? `Sample reasons:\n${reasons.map((r) => `• ${r}`).join('\n')}` : '',
      `Records of \`${queue}\` kept now: ${totalRecords}. Next alert for this queue in ${describeWindow(cooldownMs)} at the earliest.`,
    ]
      .filter(Boolean)
      .join('\n');
    return {
      text,
      queue,
      count,
      threshold,
      windowSeconds: windowMs / 1_000,
      cooldownSeconds: cooldownMs / 1_000,
      totalRecords,
      jobNames,
      sampleReasons: reasons,
      sampleRecordIds: records.slice(0, 5).map((r) => r.id),
      windowStart: new Date(now - windowMs).toISOString(),
      firedAt: new Date(now).toISOString(),
    };
  }
}
