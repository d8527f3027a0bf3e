import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { generateWorker, NewWorkerError } from '../src/generate.js';

const REPO = fileURLToPath(new URL('../../../', import.meta.url));

/** A scratch root with what the generator reads: fleet.json, the contracts' sources, the apps. */
function scratchRoot(): string {
  const root = mkdtempSync(join(tmpdir(), 'new-worker-'));
  cpSync(join(REPO, 'fleet.json'), join(root, 'fleet.json'));
  cpSync(join(REPO, 'packages/queue-contracts/src'), join(root, 'packages/queue-contracts/src'), {
    recursive: true,
  });
  for (const app of JSON.parse(readFileSync(join(REPO, 'fleet.json'), 'utf8')).apps as Array<{
    name: string;
  }>) {
    mkdirSync(join(root, 'apps', app.name), { recursive: true });
    writeFileSync(join(root, 'apps', app.name, 'package.json'), '{}');
  }
  return root;
}

const read = (root: string, path: string) => readFileSync(join(root, path), 'utf8');

describe('pnpm new-worker', () => {
  let root: string;
  beforeEach(() => {
    root = scratchRoot();
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('writes the contract, registers it, creates the app and takes the next free port', async () => {
    const before = JSON.parse(read(root, 'fleet.json')) as { apps: Array<{ kind: string; port: number }> };
    const highest = Math.max(...before.apps.filter((app) => app.kind === 'worker').map((app) => app.port));

    const generated = await generateWorker(
      { queue: 'image-resize', jobs: ['resize', 'crop-square'], team: 'media' },
      { root },
    );

    expect(generated).toMatchObject({ app: 'image-resize-worker', port: highest + 1 });
    const contract = read(root, 'packages/queue-contracts/src/image-resize.ts');
    expect(contract).toContain("name: 'image-resize'");
    expect(contract).toContain("team: 'media'");
    expect(contract).toContain('export const ImageResizeCropSquareData');
    expect(contract).toMatch(/'crop-square': \{/);
    const catalog = read(root, 'packages/queue-contracts/src/catalog.ts');
    expect(catalog).toContain("import { imageResize } from './image-resize.js';");
    expect(catalog).toMatch(
      /catalog = \{ emails, reports, webhooks, 'image-resize': imageResize \} as const;/,
    );
    expect(read(root, 'packages/queue-contracts/src/index.ts')).toContain(
      "export * from './image-resize.js';",
    );

    for (const file of [
      'package.json',
      'tsconfig.json',
      'src/main.ts',
      'src/worker.ts',
      'src/handlers.ts',
      'test/contract.test.ts',
      'README.md',
      '.env.example',
    ]) {
      expect(existsSync(join(root, 'apps/image-resize-worker', file)), file).toBe(true);
    }
    expect(read(root, 'apps/image-resize-worker/src/main.ts').trim().split('\n').length).toBeLessThanOrEqual(
      5,
    );
    expect(read(root, 'apps/image-resize-worker/src/worker.ts')).toContain(`metricsPort: ${highest + 1}`);
    const handlers = read(root, 'apps/image-resize-worker/src/handlers.ts');
    expect(handlers).toContain("'resize': async");
    expect(handlers).toContain("'crop-square': async");
    expect(JSON.parse(read(root, 'apps/image-resize-worker/package.json')).name).toBe(
      '@jobfleet/image-resize-worker',
    );

    const after = JSON.parse(read(root, 'fleet.json')) as { apps: unknown[] };
    expect(after.apps.at(-1)).toEqual({
      name: 'image-resize-worker',
      kind: 'worker',
      port: highest + 1,
      team: 'media',
      queues: ['image-resize'],
    });
  });

  it('gives a second new worker the port after the first', async () => {
    const first = await generateWorker({ queue: 'thumbnails', jobs: ['resize'], team: 'media' }, { root });
    const second = await generateWorker({ queue: 'previews', jobs: ['render'], team: 'platform' }, { root });
    expect(second.port).toBe(first.port + 1);
    expect(read(root, 'packages/queue-contracts/src/catalog.ts')).toMatch(
      /catalog = \{ emails, reports, webhooks, thumbnails, previews \} as const;/,
    );
  });

  it.each([
    [{ queue: 'Thumbnails', jobs: ['resize'] }, /queue name "Thumbnails" is not kebab-case/],
    [{ queue: 'thumb_nails', jobs: ['resize'] }, /queue name "thumb_nails" is not kebab-case/],
    [{ queue: 'thumbnails-', jobs: ['resize'] }, /not kebab-case/],
    [{ queue: 'emails', jobs: ['resize'] }, /queue "emails" already exists/],
    [{ queue: 'dead-letters', jobs: ['resize'] }, /queue name "dead-letters" is reserved/],
    [{ queue: 'email', jobs: ['resize'] }, /an app named "email-worker" already exists/],
    [{ queue: 'thumbnails', jobs: ['Resize'] }, /job name "Resize" is not kebab-case/],
    [{ queue: 'thumbnails', jobs: ['resize', 'resize'] }, /job name "resize" is given twice/],
    [{ queue: 'thumbnails', jobs: [] }, /name at least one job/],
    [{ queue: 'catalog', jobs: ['resize'] }, /"catalog" is already exported by @jobfleet\/queue-contracts/],
  ])('refuses %j with a clear message and changes nothing', async (request, message) => {
    const before = {
      fleet: read(root, 'fleet.json'),
      catalog: read(root, 'packages/queue-contracts/src/catalog.ts'),
    };
    const attempt = generateWorker({ team: 'media', ...request }, { root });
    await expect(attempt).rejects.toThrow(NewWorkerError);
    await expect(attempt).rejects.toThrow(message);
    expect(read(root, 'fleet.json')).toBe(before.fleet);
    expect(read(root, 'packages/queue-contracts/src/catalog.ts')).toBe(before.catalog);
    expect(existsSync(join(root, `apps/${request.queue}-worker/src`))).toBe(false);
  });
});
