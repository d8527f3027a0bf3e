import { describe, expect, it } from 'vitest';
import {
  describeMemoryRun,
  growth,
  infoField,
  type MemoryRunResult,
  type MemorySample,
  metricValue,
  planRound,
  RSS_RULE,
  rangeOf,
  rssBytes,
} from '../src/memory-run.js';

const MB = 1024 * 1024;

describe('growth', () => {
  it('allows the larger of the share of the middle figure and the floor', () => {
    expect(growth(100 * MB, 119 * MB, RSS_RULE)).toEqual({ delta: 19 * MB, limit: 20 * MB, flat: true });
    expect(growth(100 * MB, 121 * MB, RSS_RULE).flat).toBe(false);
    expect(growth(400 * MB, 439 * MB, RSS_RULE)).toEqual({ delta: 39 * MB, limit: 40 * MB, flat: true });
    expect(growth(400 * MB, 441 * MB, RSS_RULE).flat).toBe(false);
  });

  it('counts shrinking as flat', () => {
    expect(growth(200 * MB, 150 * MB, RSS_RULE)).toMatchObject({ delta: -50 * MB, flat: true });
  });
});

describe('planRound', () => {
  it('posts the single-job share first, then full batches and one short batch', () => {
    expect(planRound(1_000_000, { roundJobs: 10_000, singleShare: 0.1, batchSize: 500 })).toEqual({
      single: 1_000,
      batches: Array.from({ length: 18 }, () => 500),
    });
    expect(planRound(1_250, { roundJobs: 10_000, singleShare: 0.2, batchSize: 500 })).toEqual({
      single: 250,
      batches: [500, 500],
    });
    expect(planRound(1_000, { roundJobs: 10_000, singleShare: 0, batchSize: 300 })).toEqual({
      single: 0,
      batches: [300, 300, 300, 100],
    });
  });

  it('plans rounds that add up to the total', () => {
    let remaining = 123_457;
    let planned = 0;
    while (remaining > 0) {
      const { single, batches } = planRound(remaining, {
        roundJobs: 50_000,
        singleShare: 0.1,
        batchSize: 500,
      });
      const jobs = single + batches.reduce((sum, size) => sum + size, 0);
      expect(jobs).toBeGreaterThan(0);
      expect(batches.every((size) => size > 0 && size <= 500)).toBe(true);
      planned += jobs;
      remaining -= jobs;
    }
    expect(planned).toBe(123_457);
  });
});

describe('infoField', () => {
  it('reads a field of INFO memory, with the CRLF Redis sends', () => {
    const info = '# Memory\r\nused_memory:1234567\r\nused_memory_human:1.18M\r\nused_memory_peak:2345678\r\n';
    expect(infoField(info, 'used_memory')).toBe(1_234_567);
    expect(infoField(info, 'used_memory_peak')).toBe(2_345_678);
    expect(() => infoField(info, 'used_memory_rss')).toThrow(/used_memory_rss/);
  });
});

describe('rssBytes', () => {
  it("reads a live process's resident set from /proc", () => {
    const rss = rssBytes(process.pid);
    expect(rss).toBeGreaterThan(10 * MB);
    expect(rss).toBeLessThan(process.memoryUsage().rss * 2);
  });
});

const sample = (over: Partial<MemorySample>): MemorySample => ({
  seconds: 10,
  delivered: 0,
  outstanding: 0,
  gatewayRss: 150 * MB,
  workerRss: 130 * MB,
  workerHeapUsed: 38 * MB,
  redisUsed: 20 * MB,
  ...over,
});

/** A run whose samples are: one during warm-up, start, a quarter, middle, three quarters, late, end. */
const result = (end: Partial<MemorySample>, late: Partial<MemorySample> = {}): MemoryRunResult => {
  const at = (delivered: number, over: Partial<MemorySample> = {}) => sample({ delivered, ...over });
  const points = {
    start: at(50_000),
    middle: at(500_000),
    late: at(950_000, late),
    end: at(1_000_000, end),
  };
  return {
    ...base,
    ...points,
    samples: [
      // Warm-up is not judged: the heap grows to its working size there.
      at(10_000, { gatewayRss: 300 * MB }),
      points.start,
      at(250_000),
      points.middle,
      at(750_000),
      points.late,
      points.end,
    ],
  };
};

const base = {
  jobs: 1_000_000,
  singleJobs: 100_000,
  batchJobs: 900_000,
  batchSize: 500,
  batchConcurrency: 4,
  connections: 64,
  backlog: 10_000,
  seconds: 500,
  max: { gatewayRss: 160 * MB, workerRss: 140 * MB, workerHeapUsed: 40 * MB, redisUsed: 26 * MB },
  redis: {
    baseline: MB,
    peak: 30 * MB,
    keepCompleted: 10_000,
    keepFailed: 10_000,
    retainedCompleted: 10_000,
    retainedFailed: 0,
    bytesPerRetainedJob: 1_400,
    residual: 2 * MB,
  },
  single: { p50: 5, p99: 40, cpuUsPerJob: 300 },
  batch: { p50: 60, p99: 200, cpuUsPerJob: 20 },
};

describe('rangeOf', () => {
  it('takes the lowest and the largest figure of the samples in the range of delivered messages', () => {
    const samples = [0, 10, 20, 30].map((delivered) =>
      sample({ delivered, workerRss: (40 - delivered) * MB }),
    );
    expect(rangeOf(samples, 10, 30, (s) => s.workerRss)).toEqual({ floor: 20 * MB, peak: 30 * MB });
    expect(rangeOf(samples, 20, Number.POSITIVE_INFINITY, (s) => s.workerRss)).toEqual({
      floor: 10 * MB,
      peak: 20 * MB,
    });
    expect(rangeOf(samples, 31, 40, (s) => s.workerRss)).toEqual({ floor: Number.NaN, peak: Number.NaN });
  });

  it('leaves out samples whose figure could not be read', () => {
    const samples = [0, 10, 20].map((delivered) =>
      sample({ delivered, workerHeapUsed: delivered === 10 ? Number.NaN : (40 + delivered) * MB }),
    );
    expect(rangeOf(samples, 0, 30, (s) => s.workerHeapUsed)).toEqual({ floor: 40 * MB, peak: 60 * MB });
  });
});

describe('metricValue', () => {
  it("reads an unlabelled series of Prometheus's text format", () => {
    const text = [
      '# HELP nodejs_heap_size_used_bytes Process heap size used from Node.js in bytes.',
      '# TYPE nodejs_heap_size_used_bytes gauge',
      'nodejs_heap_size_used_bytes 39845672',
      'nodejs_heap_size_used_bytes_other 1',
    ].join('\n');
    expect(metricValue(text, 'nodejs_heap_size_used_bytes')).toBe(39_845_672);
    expect(metricValue(text, 'nodejs_heap_size_total_bytes')).toBeNaN();
  });
});

describe('describeMemoryRun', () => {
  it('says flat and bounded when nothing grew from middle to end', () => {
    const text = describeMemoryRun(result({}));
    expect(text).toContain('gateway RSS: flat');
    expect(text).toContain('worker RSS: flat');
    expect(text).toContain('worker heap used: flat');
    expect(text).toContain('Redis used_memory: bounded');
    expect(text).toContain(
      '10,000 completed and 0 failed jobs kept at the end; 1,400 bytes per retained job',
    );
    expect(text).not.toContain('GROWING');
  });

  it('says GROWING for a process whose lowest RSS rose over the last quarter, or a Redis whose peak rose', () => {
    const leaking = { workerRss: 160 * MB };
    const run = result({ ...leaking, redisUsed: 26 * MB }, leaking);
    run.samples[4] = { ...(run.samples[4] as MemorySample), ...leaking };
    const text = describeMemoryRun(run);
    expect(text).toContain('gateway RSS: flat');
    expect(text).toContain('worker RSS: GROWING (lowest 75–100% − lowest 5–50% +30.0 MB');
    expect(text).toContain('Redis used_memory: GROWING (peak 50–100% − peak 5–50% +6.0 MB');
  });

  it("says GROWING for a worker whose used heap's lowest samples rose beyond the heap's rule", () => {
    const leaking = { workerHeapUsed: 50 * MB };
    const run = result(leaking, leaking);
    run.samples[4] = { ...(run.samples[4] as MemorySample), ...leaking };
    const text = describeMemoryRun(run);
    expect(text).toContain('worker RSS: flat');
    expect(text).toContain('worker heap used: GROWING (lowest 75–100% − lowest 5–50% +12.0 MB');
  });

  it('does not take a late peak under load for growth when the process falls back to its floor', () => {
    const text = describeMemoryRun(result({ gatewayRss: 150 * MB }, { gatewayRss: 230 * MB }));
    expect(text).toContain('gateway RSS: flat (lowest 75–100% − lowest 5–50% +0.0 MB');
  });

  it('counts garbage-collector peaks in either half as flat', () => {
    const run = result({});
    run.samples[2] = { ...(run.samples[2] as MemorySample), gatewayRss: 240 * MB };
    run.samples[4] = { ...(run.samples[4] as MemorySample), gatewayRss: 290 * MB };
    expect(describeMemoryRun(run)).toContain('gateway RSS: flat (lowest 75–100% − lowest 5–50% +0.0 MB');
  });
});
