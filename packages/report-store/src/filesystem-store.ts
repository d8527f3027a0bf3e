import { createHash, randomUUID } from 'node:crypto';
import { constants, type Stats } from 'node:fs';
import {
  access,
  type FileHandle,
  mkdir,
  open,
  readdir,
  readFile,
  rename,
  rm,
  rmdir,
  stat,
} from 'node:fs/promises';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import { contentTypeOf, isReportFormat, REPORT_FORMATS, type ReportFormat } from './formats.js';
import {
  assertDate,
  assertJobId,
  assertKey,
  assertTenant,
  encodeJobId,
  type ReportKey,
  reportFileName,
  reportPath,
} from './report-key.js';
import type { ReportBody, ReportFile, ReportStore, StoredReport, TrimResult } from './report-store.js';

/**
 * Layout under the root directory:
 *
 *     <tenant>/<date>/<encoded job id>.<csv|pdf>   the report
 *     <tenant>/_jobs/<encoded job id>.json          its index entry: date, format, size, sha256
 *
 * The index entry is how a report is found by tenant and job id alone (the
 * gateway knows no date), and it carries the sha256 so a download needs no
 * second read of the file. Both are written as a temporary file (`.<name>.<uuid>.tmp`
 * in the same directory) that is fsynced and then renamed over the final name,
 * the report first: a crash leaves the old version, or a report without index
 * entry (invisible, and replaced when the job is retried), never a torn file.
 */
const INDEX_DIR = '_jobs';
const DATE_DIR = /^\d{4}-\d{2}-\d{2}$/;
/** Temporary files older than this are leftovers of a crashed write. */
const STALE_TEMP_MS = 3_600_000;

/** An index entry. `ino`/`mtimeMs`/`bytes` identify the exact file version the sha256 belongs to. */
interface IndexRecord {
  v: 1;
  jobId: string;
  date: string;
  format: ReportFormat;
  bytes: number;
  sha256: string;
  storedAt: string;
  ino: number;
  mtimeMs: number;
}

function isIndexRecord(value: unknown): value is IndexRecord {
  if (!value || typeof value !== 'object') return false;
  const r = value as Record<string, unknown>;
  return (
    r.v === 1 &&
    typeof r.jobId === 'string' &&
    typeof r.date === 'string' &&
    DATE_DIR.test(r.date) &&
    isReportFormat(r.format) &&
    typeof r.bytes === 'number' &&
    typeof r.sha256 === 'string' &&
    /^[0-9a-f]{64}$/.test(r.sha256) &&
    typeof r.storedAt === 'string' &&
    typeof r.ino === 'number' &&
    typeof r.mtimeMs === 'number'
  );
}

const isCode = (error: unknown, ...codes: string[]) =>
  codes.includes((error as NodeJS.ErrnoException | undefined)?.code ?? '');

async function* chunksOf(body: ReportBody): AsyncIterable<Uint8Array> {
  if (body instanceof Uint8Array) {
    yield body;
    return;
  }
  for await (const chunk of body) {
    if (!(chunk instanceof Uint8Array))
      throw new TypeError('a report body must be made of Uint8Array chunks');
    yield chunk;
  }
}

async function writeAll(handle: FileHandle, chunk: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < chunk.length) {
    const { bytesWritten } = await handle.write(chunk, offset, chunk.length - offset);
    offset += bytesWritten;
  }
}

/** Makes a rename durable; some filesystems cannot fsync a directory, which only costs durability. */
async function syncDirectory(dir: string): Promise<void> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(dir, 'r');
    await handle.sync();
  } catch {
    // Best effort.
  } finally {
    await handle?.close().catch(() => {});
  }
}

export interface FilesystemReportStoreOptions {
  /** The root directory; created on first write. Relative paths resolve against the working directory. */
  dir: string;
}

/** Reports as files under one directory (`REPORTS_DIR`), shared by the worker and the gateway. */
export class FilesystemReportStore implements ReportStore {
  readonly kind = 'filesystem';
  readonly location: string;
  private readonly root: string;

  constructor(options: FilesystemReportStoreOptions) {
    this.root = resolve(options.dir);
    this.location = this.root;
  }

  /** An absolute path under the root; throws if `parts` would leave it (they are validated before). */
  private inside(...parts: string[]): string {
    const path = resolve(this.root, ...parts);
    const rel = relative(this.root, path);
    if (rel === '' || rel.startsWith(`..${sep}`) || rel === '..' || isAbsolute(rel)) {
      throw new Error(`refusing a report path outside ${this.root}`);
    }
    return path;
  }

  private indexPath(tenant: string, jobId: string): string {
    return this.inside(tenant, INDEX_DIR, `${encodeJobId(jobId)}.json`);
  }

  private filePath(key: ReportKey): string {
    return this.inside(...reportPath(key).split('/'));
  }

  /** Writes `body` to `dir/name` through a temporary file; returns its size, sha256 and final stats. */
  private async writeAtomically(
    dir: string,
    name: string,
    body: ReportBody,
  ): Promise<{ bytes: number; sha256: string; stats: Stats }> {
    const target = join(dir, name);
    const temp = join(dir, `.${name}.${randomUUID()}.tmp`);
    let handle: FileHandle;
    try {
      await mkdir(dir, { recursive: true });
      handle = await open(temp, 'wx');
    } catch (error) {
      // A concurrent trim may have removed the (empty) directory between mkdir and open.
      if (!isCode(error, 'ENOENT')) throw error;
      await mkdir(dir, { recursive: true });
      handle = await open(temp, 'wx');
    }
    const hash = createHash('sha256');
    let bytes = 0;
    let stats: Stats;
    try {
      for await (const chunk of chunksOf(body)) {
        hash.update(chunk);
        bytes += chunk.length;
        await writeAll(handle, chunk);
      }
      await handle.sync();
      // Of this very file: a rename keeps inode and mtime, while `target` may by then be a concurrent put's.
      stats = await handle.stat();
      await handle.close();
      await rename(temp, target);
    } catch (error) {
      await handle.close().catch(() => {});
      await rm(temp, { force: true });
      throw error;
    }
    await syncDirectory(dir);
    return { bytes, sha256: hash.digest('hex'), stats };
  }

  private async readIndex(tenant: string, jobId: string): Promise<IndexRecord | undefined> {
    assertTenant(tenant);
    try {
      assertJobId(jobId);
    } catch {
      return undefined;
    }
    let text: string;
    try {
      text = await readFile(this.indexPath(tenant, jobId), 'utf8');
    } catch (error) {
      if (isCode(error, 'ENOENT', 'ENOTDIR')) return undefined;
      throw error;
    }
    let record: unknown;
    try {
      record = JSON.parse(text);
    } catch {
      return undefined;
    }
    // The job id is compared too: a hashed (long) id must not answer for another.
    return isIndexRecord(record) && record.jobId === jobId ? record : undefined;
  }

  private describe(tenant: string, record: IndexRecord): StoredReport {
    const key: ReportKey = { tenant, date: record.date, jobId: record.jobId, format: record.format };
    return {
      tenant,
      date: record.date,
      jobId: record.jobId,
      format: record.format,
      path: reportPath(key),
      bytes: record.bytes,
      sha256: record.sha256,
      contentType: contentTypeOf(record.format),
      fileName: reportFileName(key),
      storedAt: record.storedAt,
    };
  }

  private static matches(stats: Stats, record: IndexRecord): boolean {
    return stats.ino === record.ino && stats.size === record.bytes && stats.mtimeMs === record.mtimeMs;
  }

  async put(key: ReportKey, body: ReportBody): Promise<StoredReport> {
    assertKey(key);
    const previous = await this.readIndex(key.tenant, key.jobId);
    const written = await this.writeAtomically(
      this.inside(key.tenant, key.date),
      `${encodeJobId(key.jobId)}.${REPORT_FORMATS[key.format].extension}`,
      body,
    );
    const record: IndexRecord = {
      v: 1,
      jobId: key.jobId,
      date: key.date,
      format: key.format,
      bytes: written.bytes,
      sha256: written.sha256,
      storedAt: new Date().toISOString(),
      ino: written.stats.ino,
      mtimeMs: written.stats.mtimeMs,
    };
    await this.writeAtomically(
      this.inside(key.tenant, INDEX_DIR),
      `${encodeJobId(key.jobId)}.json`,
      Buffer.from(JSON.stringify(record)),
    );
    // The same job stored under another date or format before (its data was changed): drop that file.
    // Another date or format is another path, so this never removes what was just written.
    if (previous && (previous.date !== key.date || previous.format !== key.format)) {
      await rm(this.filePath({ ...key, date: previous.date, format: previous.format }), { force: true });
    }
    return this.describe(key.tenant, record);
  }

  async stat(tenant: string, jobId: string): Promise<StoredReport | undefined> {
    for (let attempt = 0; attempt < 3; attempt++) {
      const record = await this.readIndex(tenant, jobId);
      if (!record) return undefined;
      let stats: Stats;
      try {
        stats = await stat(this.filePath({ tenant, jobId, date: record.date, format: record.format }));
      } catch (error) {
        if (!isCode(error, 'ENOENT')) throw error;
        continue;
      }
      // Otherwise a newer version is being stored: its index entry follows at once.
      if (FilesystemReportStore.matches(stats, record)) return this.describe(tenant, record);
    }
    return undefined;
  }

  async open(tenant: string, jobId: string): Promise<ReportFile | undefined> {
    for (let attempt = 0; attempt < 3; attempt++) {
      const record = await this.readIndex(tenant, jobId);
      if (!record) return undefined;
      let handle: FileHandle;
      try {
        handle = await open(this.filePath({ tenant, jobId, date: record.date, format: record.format }), 'r');
      } catch (error) {
        if (!isCode(error, 'ENOENT')) throw error;
        continue;
      }
      // The open descriptor pins this version: a later replace or trim cannot change what it reads.
      const stats = await handle.stat().catch(async (error: unknown) => {
        await handle.close();
        throw error;
      });
      if (FilesystemReportStore.matches(stats, record)) {
        return { ...this.describe(tenant, record), stream: handle.createReadStream() };
      }
      await handle.close();
    }
    return undefined;
  }

  async remove(tenant: string, jobId: string): Promise<boolean> {
    const record = await this.readIndex(tenant, jobId);
    if (!record) return false;
    await rm(this.filePath({ tenant, jobId, date: record.date, format: record.format }), { force: true });
    await rm(this.indexPath(tenant, jobId), { force: true });
    return true;
  }

  /** Tenant directories under the root; anything else there is not ours and is left alone. */
  private async tenants(only?: string): Promise<string[]> {
    if (only !== undefined) {
      assertTenant(only);
      return [only];
    }
    try {
      const entries = await readdir(this.root, { withFileTypes: true });
      return entries
        .filter((e) => e.isDirectory())
        .map((e) => e.name)
        .filter((name) => {
          try {
            assertTenant(name);
            return true;
          } catch {
            return false;
          }
        });
    } catch (error) {
      if (isCode(error, 'ENOENT')) return [];
      throw error;
    }
  }

  private async entries(dir: string): Promise<string[]> {
    try {
      return await readdir(dir);
    } catch (error) {
      if (isCode(error, 'ENOENT', 'ENOTDIR')) return [];
      throw error;
    }
  }

  async *list(filter: { tenant?: string } = {}): AsyncIterable<StoredReport> {
    for (const tenant of await this.tenants(filter.tenant)) {
      for (const name of await this.entries(this.inside(tenant, INDEX_DIR))) {
        if (name.startsWith('.') || !name.endsWith('.json')) continue;
        let record: unknown;
        try {
          record = JSON.parse(await readFile(this.inside(tenant, INDEX_DIR, name), 'utf8'));
        } catch {
          continue;
        }
        if (!isIndexRecord(record)) continue;
        const found = await this.stat(tenant, record.jobId);
        if (found) yield found;
      }
    }
  }

  async trim(cutoff: Date): Promise<TrimResult> {
    const result: TrimResult = { removed: 0, leftovers: 0 };
    const now = Date.now();
    const olderThan = async (path: string, time: number) => {
      try {
        return (await stat(path)).mtimeMs < time;
      } catch {
        return false;
      }
    };
    const removeIf = async (path: string, time: number) => {
      if (!(await olderThan(path, time))) return false;
      await rm(path, { force: true });
      return true;
    };
    for (const tenant of await this.tenants()) {
      for (const date of await this.entries(this.inside(tenant))) {
        if (!DATE_DIR.test(date)) continue;
        try {
          assertDate(date);
        } catch {
          continue;
        }
        const dir = this.inside(tenant, date);
        for (const name of await this.entries(dir)) {
          const path = join(dir, name);
          if (name.startsWith('.') && name.endsWith('.tmp')) {
            if (await removeIf(path, now - STALE_TEMP_MS)) result.leftovers++;
          } else if (/\.(csv|pdf)$/.test(name) && (await removeIf(path, cutoff.getTime()))) {
            result.removed++;
          }
        }
        await rmdir(dir).catch(() => {});
      }
      // Index entries go with their reports (an entry is never older than its file), and when orphaned.
      const indexDir = this.inside(tenant, INDEX_DIR);
      for (const name of await this.entries(indexDir)) {
        const path = join(indexDir, name);
        if (name.startsWith('.') && name.endsWith('.tmp')) {
          if (await removeIf(path, now - STALE_TEMP_MS)) result.leftovers++;
          continue;
        }
        if (!name.endsWith('.json')) continue;
        if (await removeIf(path, cutoff.getTime())) continue;
        let record: unknown;
        try {
          record = JSON.parse(await readFile(path, 'utf8'));
        } catch {
          continue;
        }
        if (!isIndexRecord(record)) continue;
        const file = this.filePath({ tenant, jobId: record.jobId, date: record.date, format: record.format });
        const exists = await stat(file).then(
          () => true,
          () => false,
        );
        // Re-checked by name: a put may have replaced the entry since it was read.
        if (!exists && (await this.readIndex(tenant, record.jobId))?.storedAt === record.storedAt) {
          await rm(path, { force: true });
          result.leftovers++;
        }
      }
      await rmdir(indexDir).catch(() => {});
      await rmdir(this.inside(tenant)).catch(() => {});
    }
    return result;
  }

  async check(): Promise<{ ok: true } | { ok: false; reason: string }> {
    try {
      await mkdir(this.root, { recursive: true });
      await access(this.root, constants.W_OK);
      return { ok: true };
    } catch (error) {
      return {
        ok: false,
        reason: `the reports directory ${this.root} is not writable (${(error as NodeJS.ErrnoException).code ?? 'error'})`,
      };
    }
  }
}

/** A {@link FilesystemReportStore} under `dir`. */
export function createFilesystemReportStore(options: FilesystemReportStoreOptions): FilesystemReportStore {
  return new FilesystemReportStore(options);
}
