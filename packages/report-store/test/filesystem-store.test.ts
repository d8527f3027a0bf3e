import { createHash } from 'node:crypto';
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve, sep } from 'node:path';
import type { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import {
  createFilesystemReportStore,
  InvalidReportKeyError,
  type ReportKey,
  retentionCutoff,
} from '../src/index.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A store under `<tmp>/reports`, so `<tmp>` itself shows anything written outside the root. */
function setup() {
  const parent = mkdtempSync(join(tmpdir(), 'report-store-'));
  dirs.push(parent);
  const root = join(parent, 'reports');
  return { parent, root, store: createFilesystemReportStore({ dir: root }) };
}

/** Every file below `dir`, as absolute paths. */
function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    return entry.isDirectory() ? walk(path) : [path];
  });
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

const sha256 = (data: Uint8Array | string) => createHash('sha256').update(data).digest('hex');

function deferred() {
  let resolve = () => {};
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

const key = (over: Partial<ReportKey> = {}): ReportKey => ({
  tenant: 'acme',
  date: '2026-03-14',
  jobId: 'job-1',
  format: 'csv',
  ...over,
});

describe('put and open', () => {
  it('stores under <tenant>/<date>/<jobId>.<ext> and reads back as a stream with size, type and sha256', async () => {
    const { root, store } = setup();
    const body = Buffer.from('queue,job_name\nemails,welcome\n');
    const stored = await store.put(key(), body);
    expect(stored).toMatchObject({
      tenant: 'acme',
      date: '2026-03-14',
      jobId: 'job-1',
      format: 'csv',
      path: 'acme/2026-03-14/job-1.csv',
      bytes: body.length,
      sha256: sha256(body),
      contentType: 'text/csv; charset=utf-8',
      fileName: 'report-acme-2026-03-14.csv',
    });
    expect(readFileSync(join(root, 'acme', '2026-03-14', 'job-1.csv'))).toEqual(body);

    const file = await store.open('acme', 'job-1');
    expect(file).toBeDefined();
    const read = await readAll(file?.stream as Readable);
    expect(read).toEqual(body);
    expect(sha256(read)).toBe(file?.sha256);
    expect(file?.bytes).toBe(read.length);
    expect(await store.stat('acme', 'job-1')).toEqual(stored);

    const pdf = await store.put(key({ jobId: 'job-2', format: 'pdf' }), [
      Buffer.from('%PDF-1.7\n'),
      Buffer.from('x'),
    ]);
    expect(pdf).toMatchObject({
      contentType: 'application/pdf',
      bytes: 10,
      path: 'acme/2026-03-14/job-2.pdf',
    });
    expect(pdf.sha256).toBe(sha256('%PDF-1.7\nx'));
  });

  it('answers undefined for a job it has not stored, and for another tenant asking for the job', async () => {
    const { store } = setup();
    await store.put(key(), Buffer.from('a'));
    expect(await store.open('acme', 'job-9')).toBeUndefined();
    expect(await store.open('globex', 'job-1')).toBeUndefined();
    expect(await store.stat('globex', 'job-1')).toBeUndefined();
    expect(await store.remove('globex', 'job-1')).toBe(false);
    expect(await store.open('acme', '')).toBeUndefined();
  });

  it('keeps serving the version a reader opened while the report is replaced or removed', async () => {
    const { store } = setup();
    await store.put(key(), Buffer.from('version one'));
    const first = await store.open('acme', 'job-1');
    await store.put(key(), Buffer.from('version two, longer'));
    expect((await readAll(first?.stream as Readable)).toString()).toBe('version one');
    const second = await store.open('acme', 'job-1');
    expect(second?.sha256).toBe(sha256('version two, longer'));
    expect(await store.remove('acme', 'job-1')).toBe(true);
    expect((await readAll(second?.stream as Readable)).toString()).toBe('version two, longer');
    expect(await store.open('acme', 'job-1')).toBeUndefined();
  });

  it('moves a job’s report when it is stored again under another date or format', async () => {
    const { root, store } = setup();
    await store.put(key(), Buffer.from('csv'));
    await store.put(key({ date: '2026-03-15', format: 'pdf' }), Buffer.from('pdf'));
    const files = walk(root).map((p) => relative(root, p).split(sep).join('/'));
    expect(files.sort()).toEqual(['acme/2026-03-15/job-1.pdf', 'acme/_jobs/job-1.json']);
    expect((await store.stat('acme', 'job-1'))?.format).toBe('pdf');
  });
});

describe('atomic writes', () => {
  it('shows nothing at the final path until the whole body is written, then all of it', async () => {
    const { root, store } = setup();
    const gate = deferred();
    const halfway = deferred();
    async function* body() {
      yield Buffer.from('first half,');
      halfway.resolve();
      await gate.promise;
      yield Buffer.from('second half');
    }
    const putting = store.put(key(), body());
    await halfway.promise;
    const dateDir = join(root, 'acme', '2026-03-14');
    const during = readdirSync(dateDir);
    expect(during).toHaveLength(1);
    expect(during[0]).toMatch(/^\.job-1\.csv\..+\.tmp$/);
    expect(await store.open('acme', 'job-1')).toBeUndefined();
    gate.resolve();
    const stored = await putting;
    expect(readdirSync(dateDir)).toEqual(['job-1.csv']);
    expect(readFileSync(join(dateDir, 'job-1.csv'), 'utf8')).toBe('first half,second half');
    expect(stored.sha256).toBe(sha256('first half,second half'));
  });

  it('keeps the previous version whole while a new one is written, and when the write fails', async () => {
    const { root, store } = setup();
    const old = await store.put(key(), Buffer.from('old report'));
    const halfway = deferred();
    const gate = deferred();
    async function* failing() {
      yield Buffer.from('new rep');
      halfway.resolve();
      await gate.promise;
      throw new Error('renderer crashed');
    }
    const putting = store.put(key(), failing());
    await halfway.promise;
    const during = await store.open('acme', 'job-1');
    expect(during?.sha256).toBe(old.sha256);
    expect((await readAll(during?.stream as Readable)).toString()).toBe('old report');
    gate.resolve();
    await expect(putting).rejects.toThrow('renderer crashed');
    // No temporary file is left behind, and the old version is still served.
    expect(walk(root).filter((p) => p.endsWith('.tmp'))).toEqual([]);
    expect(await store.stat('acme', 'job-1')).toEqual(old);
    expect(readFileSync(join(root, 'acme', '2026-03-14', 'job-1.csv'), 'utf8')).toBe('old report');
  });

  it('rejects a body made of something other than bytes, leaving nothing behind', async () => {
    const { root, store } = setup();
    await expect(store.put(key(), ['text' as unknown as Uint8Array])).rejects.toThrow(TypeError);
    expect(walk(root)).toEqual([]);
  });
});

describe('path safety', () => {
  const badTenants = [
    '..',
    '.',
    '../evil',
    'a/b',
    'a\\b',
    '/abs',
    'ACME',
    '',
    '_jobs',
    'a\u0000b',
    'x'.repeat(65),
  ];
  const badDates = ['../../etc', '2026-02-30', '2026-3-1', '', '2026-03-14/..', '2026-03-14\u0000'];

  it.each(badTenants)('refuses tenant %j before touching the filesystem', async (tenant) => {
    const { parent, store } = setup();
    await expect(store.put(key({ tenant }), Buffer.from('x'))).rejects.toThrow(InvalidReportKeyError);
    await expect(store.open(tenant, 'job-1')).rejects.toThrow(InvalidReportKeyError);
    await expect(store.stat(tenant, 'job-1')).rejects.toThrow(InvalidReportKeyError);
    expect(readdirSync(parent)).toEqual([]);
  });

  it.each(badDates)('refuses date %j', async (date) => {
    const { parent, store } = setup();
    await expect(store.put(key({ date }), Buffer.from('x'))).rejects.toThrow(InvalidReportKeyError);
    expect(readdirSync(parent)).toEqual([]);
  });

  it('encodes hostile job ids into one safe file name each, inside the tenant’s directory, all distinct', async () => {
    const { parent, root, store } = setup();
    const ids = [
      '../../../etc/passwd',
      '..',
      '.',
      '.hidden',
      '/absolute',
      'a\\..\\..\\b',
      'nul\u0000byte',
      'new\nline',
      'ü/€/😀',
      '~41',
      'A',
      '%2e%2e',
      'x'.repeat(1_000),
      `${'x'.repeat(999)}y`,
      '42',
    ];
    for (const [i, jobId] of ids.entries()) await store.put(key({ jobId }), Buffer.from(`report ${i}`));

    const files = walk(parent);
    // 15 reports and 15 index entries, nothing else, and nothing outside the root.
    expect(files).toHaveLength(ids.length * 2);
    for (const file of files) {
      const rel = relative(resolve(root), file).split(sep);
      expect(rel[0]).toBe('acme');
      expect(rel).toHaveLength(3);
      expect(['2026-03-14', '_jobs']).toContain(rel[1]);
      expect(rel[2]).toMatch(/^[A-Za-z0-9_~=-]+\.(csv|json)$/);
      expect(rel[2]?.length).toBeLessThanOrEqual(200);
    }
    for (const [i, jobId] of ids.entries()) {
      const file = await store.open('acme', jobId);
      expect(file?.jobId).toBe(jobId);
      expect((await readAll(file?.stream as Readable)).toString()).toBe(`report ${i}`);
    }
    const listed = [];
    for await (const report of store.list({ tenant: 'acme' })) listed.push(report.jobId);
    expect(listed.sort()).toEqual([...ids].sort());
  });
});

describe('retention', () => {
  it('trims reports stored before the cutoff with their index entries, and leftovers; keeps the rest', async () => {
    const { root, store } = setup();
    await store.put(key({ jobId: 'old-1' }), Buffer.from('old'));
    await store.put(
      key({ jobId: 'old-2', tenant: 'globex', date: '2026-01-01', format: 'pdf' }),
      Buffer.from('old'),
    );
    await store.put(key({ jobId: 'fresh' }), Buffer.from('fresh'));
    await store.put(key({ jobId: 'orphan' }), Buffer.from('orphan'));

    const days = (n: number) => new Date(Date.now() - n * 86_400_000);
    const age = (path: string, when: Date) => utimesSync(path, when, when);
    age(join(root, 'acme', '2026-03-14', 'old-1.csv'), days(31));
    age(join(root, 'acme', '_jobs', 'old-1.json'), days(31));
    age(join(root, 'globex', '2026-01-01', 'old-2.pdf'), days(40));
    age(join(root, 'globex', '_jobs', 'old-2.json'), days(40));
    // A crashed write's temporary file (stale) and one being written now (kept).
    writeFileSync(join(root, 'acme', '2026-03-14', '.crashed.csv.1.tmp'), 'partial');
    age(join(root, 'acme', '2026-03-14', '.crashed.csv.1.tmp'), days(1));
    writeFileSync(join(root, 'acme', '2026-03-14', '.writing.csv.2.tmp'), 'partial');
    // A report deleted by hand: its index entry is an orphan.
    rmSync(join(root, 'acme', '2026-03-14', 'orphan.csv'));
    // Not ours: left alone.
    mkdirSync(join(root, 'lost+found'));

    const result = await store.trim(retentionCutoff(30));
    expect(result).toEqual({ removed: 2, leftovers: 2 });
    const left = walk(root)
      .map((p) => relative(root, p).split(sep).join('/'))
      .sort();
    expect(left).toEqual([
      'acme/2026-03-14/.writing.csv.2.tmp',
      'acme/2026-03-14/fresh.csv',
      'acme/_jobs/fresh.json',
    ]);
    expect(readdirSync(root).sort()).toEqual(['acme', 'lost+found']);
    expect(await store.open('acme', 'old-1')).toBeUndefined();
    expect((await store.stat('acme', 'fresh'))?.bytes).toBe(5);
    expect(await store.trim(retentionCutoff(30))).toEqual({ removed: 0, leftovers: 0 });
  });

  it('trims an empty or missing root without error', async () => {
    const { store } = setup();
    expect(await store.trim(new Date())).toEqual({ removed: 0, leftovers: 0 });
  });

  it('computes the cutoff from days', () => {
    expect(retentionCutoff(2, Date.parse('2026-03-14T12:00:00Z')).toISOString()).toBe(
      '2026-03-12T12:00:00.000Z',
    );
  });
});

describe('readiness', () => {
  it('is ready when the root can be written, and says why not otherwise', async () => {
    const { parent, store } = setup();
    expect(await store.check()).toEqual({ ok: true });
    writeFileSync(join(parent, 'a-file'), 'x');
    const broken = createFilesystemReportStore({ dir: join(parent, 'a-file', 'reports') });
    const result = await broken.check();
    expect(result.ok).toBe(false);
    expect(result).toMatchObject({ reason: expect.stringContaining('not writable') });
    expect(statSync(join(parent, 'a-file')).isFile()).toBe(true);
  });
});
