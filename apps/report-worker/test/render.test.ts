import { USAGE_BUCKETS, type UsageRow } from '@jobfleet/worker-runtime';
import { parse } from 'csv-parse/sync';
import { describe, expect, it } from 'vitest';
import { CSV_COLUMNS } from '../src/render/csv.js';
import { chartBars, formatSeconds } from '../src/render/pdf.js';
import { renderReport } from '../src/render/render.js';
import { buildReportModel, rowQuantiles } from '../src/report-model.js';
import { pdfToText } from './helpers.js';

const buckets = (entries: Record<number, number>) => {
  const out = new Array<number>(USAGE_BUCKETS.length + 1).fill(0);
  for (const [i, n] of Object.entries(entries)) out[Number(i)] = n;
  return out;
};

const usage: UsageRow[] = [
  {
    queue: 'emails',
    jobName: 'welcome',
    counts: { completed: 1_200, retried: 30, dead_lettered: 4, cancelled: 2 },
    buckets: buckets({ 2: 900, 4: 300, 9: 36 }),
  },
  {
    queue: 'reports',
    jobName: 'daily-report',
    counts: { completed: 3, retried: 0, dead_lettered: 0, cancelled: 0 },
    buckets: buckets({ 10: 3 }),
  },
  {
    queue: 'weird, "queue"',
    jobName: 'unknown',
    counts: { completed: 0, retried: 0, dead_lettered: 0, cancelled: 1 },
    buckets: buckets({}),
  },
];
const createdAt = new Date('2026-03-15T02:00:00Z');

describe('the report model', () => {
  it('sums totals and jobs per queue, and estimates quantiles from the buckets', () => {
    const model = buildReportModel('acme', '2026-03-14', usage, createdAt);
    expect(model.totals).toEqual({
      completed: 1_203,
      retried: 30,
      deadLettered: 4,
      cancelled: 3,
      jobs: 1_210,
      attempts: 1_240,
    });
    expect(model.queues.map((q) => [q.queue, q.jobs])).toEqual([
      ['emails', 1_206],
      ['reports', 3],
      ['weird, "queue"', 1],
    ]);
    // 900 of 1236 in (0.01, 0.025]: the median is inside that bucket.
    expect(model.rows[0]?.p50Seconds).toBeGreaterThan(0.01);
    expect(model.rows[0]?.p50Seconds).toBeLessThanOrEqual(0.025);
    expect(model.rows[0]?.durations).toBe('estimated');
    expect(model.rows[2]?.p50Seconds).toBeNull();
    expect(model.rows[2]?.durations).toBeNull();
  });

  it('shows the measured run times, not a bucket estimate, when the ledger kept every run', () => {
    // One 528 ms run: its bucket (0.5, 1] would estimate a p50 of 750 ms.
    const one = { buckets: buckets({ [USAGE_BUCKETS.indexOf(1)]: 1 }), runs: [0.528] };
    expect(rowQuantiles({ buckets: one.buckets })).toEqual({
      p50Seconds: 0.75,
      p95Seconds: 0.975,
      durations: 'estimated',
    });
    expect(rowQuantiles(one)).toEqual({ p50Seconds: 0.528, p95Seconds: 0.528, durations: 'measured' });

    const four = {
      buckets: buckets({
        [USAGE_BUCKETS.indexOf(0.25)]: 1,
        [USAGE_BUCKETS.indexOf(1)]: 2,
        [USAGE_BUCKETS.indexOf(5)]: 1,
      }),
      runs: [0.61, 0.2, 3.1234567, 0.93],
    };
    expect(rowQuantiles(four)).toEqual({ p50Seconds: 0.61, p95Seconds: 3.123457, durations: 'measured' });
    // Fewer run times than runs (more runs than the ledger keeps, or written before it kept any): estimated.
    expect(rowQuantiles({ ...four, runs: four.runs.slice(0, 3) }).durations).toBe('estimated');

    const model = buildReportModel('acme', '2026-03-14', [{ ...usage[1], ...one } as UsageRow], createdAt);
    expect(model.rows[0]).toMatchObject({ p50Seconds: 0.528, p95Seconds: 0.528, durations: 'measured' });
  });

  it('caps the chart at 20 bars, summing the smallest queues into one', () => {
    const queues = Array.from({ length: 25 }, (_, i) => ({
      queue: `q${i}`,
      completed: 25 - i,
      deadLettered: 0,
      cancelled: 0,
      jobs: 25 - i,
    }));
    const bars = chartBars(queues);
    expect(bars).toHaveLength(20);
    expect(bars[19]).toEqual({
      queue: 'other (6 queues)',
      completed: 21,
      deadLettered: 0,
      cancelled: 0,
      jobs: 21,
    });
  });

  it('formats run times for people', () => {
    expect([null, 0.0004, 0.0125, 2.345, 45, 150].map(formatSeconds)).toEqual([
      '-',
      '<1 ms',
      '13 ms',
      '2.35 s',
      '45.0 s',
      '2.5 min',
    ]);
  });
});

describe('CSV', () => {
  it('has a header and one row per queue and job name, quoted where needed', async () => {
    const model = buildReportModel('acme', '2026-03-14', usage, createdAt);
    const csv = Buffer.from(await renderReport({ model, format: 'csv' })).toString('utf8');
    const records = parse(csv, { columns: true }) as Array<Record<string, string>>;
    expect(Object.keys(records[0] ?? {})).toEqual([...CSV_COLUMNS]);
    expect(records).toHaveLength(3);
    expect(records[2]).toEqual({
      queue: 'weird, "queue"',
      job_name: 'unknown',
      completed: '0',
      retried: '0',
      dead_lettered: '0',
      cancelled: '1',
      p50_seconds: '',
      p95_seconds: '',
      durations: '',
    });
    expect(Number(records[0]?.p95_seconds)).toBe(model.rows[0]?.p95Seconds);
    expect(records[0]?.durations).toBe('estimated');
    expect(csv).toContain('\r\n');
  });

  it('says when the run times are measured', async () => {
    const row: UsageRow = {
      queue: 'emails',
      jobName: 'welcome',
      counts: { completed: 1, retried: 0, dead_lettered: 0, cancelled: 0 },
      buckets: buckets({ [USAGE_BUCKETS.indexOf(1)]: 1 }),
      runs: [0.528],
    };
    const model = buildReportModel('default', '2026-03-14', [row], createdAt);
    const csv = Buffer.from(await renderReport({ model, format: 'csv' })).toString('utf8');
    expect(csv).toBe(
      'queue,job_name,completed,retried,dead_lettered,cancelled,p50_seconds,p95_seconds,durations\r\n' +
        'emails,welcome,1,0,0,0,0.528,0.528,measured\r\n',
    );
  });

  it('is a header alone for a day without jobs', async () => {
    const model = buildReportModel('acme', '2026-03-14', [], createdAt);
    const csv = Buffer.from(await renderReport({ model, format: 'csv' })).toString('utf8');
    expect(csv).toBe(`${CSV_COLUMNS.join(',')}\r\n`);
  });
});

describe('PDF', () => {
  it('opens in pdftotext with the title, tenant, date, totals, table and chart', async () => {
    const model = buildReportModel('acme', '2026-03-14', usage, createdAt);
    const progress: number[] = [];
    const pdf = await renderReport({ model, format: 'pdf' }, (p) => progress.push(p));
    expect(Buffer.from(pdf).subarray(0, 5).toString()).toBe('%PDF-');
    const text = pdfToText(pdf);
    expect(text).toContain('jobfleet daily report');
    expect(text).toContain('Tenant: acme');
    expect(text).toContain('Date: 2026-03-14');
    expect(text).toMatch(/Jobs finished\s+1,210/);
    expect(text).toMatch(/Completed\s+1,203/);
    expect(text).toMatch(/Dead-lettered\s+4/);
    expect(text).toMatch(/Cancelled\s+3/);
    expect(text).toMatch(/Retried attempts\s+30/);
    expect(text).toMatch(/emails\s+welcome\s+1,200\s+30\s+4\s+2/);
    expect(text).toMatch(/reports\s+daily-report\s+3\s+0\s+0\s+0/);
    // Bucket estimates are marked, and the note says what the mark means.
    expect(text).toMatch(/emails\s+welcome\s+1,200\s+30\s+4\s+2\s+~\d+ ms\s+~\d+ ms/);
    expect(text).toContain('~ marks an estimate from run-time buckets');
    expect(text).toContain('Jobs per queue');
    expect(text).toMatch(/emails\s+1,206/);
    expect(progress[0]).toBe(0);
    expect(progress.at(-1)).toBe(100);
    expect([...progress].sort((a, b) => a - b)).toEqual(progress);
  });

  it('shows measured run times unmarked', async () => {
    const row: UsageRow = {
      queue: 'emails',
      jobName: 'welcome',
      counts: { completed: 1, retried: 0, dead_lettered: 0, cancelled: 0 },
      buckets: buckets({ [USAGE_BUCKETS.indexOf(1)]: 1 }),
      runs: [0.528],
    };
    const model = buildReportModel('default', '2026-03-14', [row], createdAt);
    const text = pdfToText(await renderReport({ model, format: 'pdf' }));
    expect(text).toMatch(/emails\s+welcome\s+1\s+0\s+0\s+0\s+528 ms\s+528 ms/);
    expect(text).not.toContain('750 ms');
    expect(text).toContain('p50/p95: measured run times of every attempt.');
  });

  it('is byte-identical when rendered again from the same data', async () => {
    const model = buildReportModel('acme', '2026-03-14', usage, createdAt);
    const a = await renderReport({ model, format: 'pdf' });
    const b = await renderReport({ model, format: 'pdf' });
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(true);
  });

  it('paginates a long table, repeating its header, and says so when a day had no jobs', async () => {
    const many: UsageRow[] = Array.from({ length: 120 }, (_, i) => ({
      queue: `queue-${String(i).padStart(3, '0')}`,
      jobName: 'job',
      counts: { completed: i, retried: 0, dead_lettered: 0, cancelled: 0 },
      buckets: buckets({ 3: i }),
    }));
    const long = pdfToText(
      await renderReport({ model: buildReportModel('acme', '2026-03-14', many, createdAt), format: 'pdf' }),
    );
    expect(long).toContain('queue-119');
    expect(long.match(/Queue\s+Job\s+Completed/g)?.length).toBeGreaterThanOrEqual(3);
    expect(long).toMatch(/page 1 of \d/);

    const empty = pdfToText(
      await renderReport({ model: buildReportModel('acme', '2026-03-14', [], createdAt), format: 'pdf' }),
    );
    expect(empty).toContain('No jobs finished on this day.');
    expect(empty).toMatch(/Jobs finished\s+0/);
  });
});
