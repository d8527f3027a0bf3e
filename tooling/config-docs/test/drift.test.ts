import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '@jobfleet/service-kit';
import { beforeAll, describe, expect, it } from 'vitest';
import { type AppSpec, loadAppSpecs, plan, README, readManifestApps, specProblems } from '../src/generate.js';
import { defaultOf, docProblem, renderTable, replaceMarked } from '../src/render.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

let apps: AppSpec[];
beforeAll(async () => {
  apps = await loadAppSpecs(ROOT);
}, 60_000);

/** The uncommented `KEY=value` lines of a `.env.example`. */
function assignments(text: string): Record<string, string> {
  return Object.fromEntries(
    text
      .split('\n')
      .filter((line) => /^[A-Z][A-Z0-9_]*=/.test(line))
      .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
  );
}

describe('the generated configuration docs', () => {
  it('cover every app fleet.json lists', () => {
    expect(apps.map((app) => app.name)).toEqual(readManifestApps(ROOT).map((app) => app.name));
  });

  it('are what the config specs generate (run pnpm docs:config)', () => {
    for (const file of plan(ROOT, apps)) {
      // toBe on the texts shows the drifted lines; the message names the file and the fix.
      expect(file.current, `${file.path} differs from the config specs: run pnpm docs:config`).toBe(
        file.expected,
      );
    }
  });

  it('document every key of every app: a doc, a printable default, no secret value', () => {
    expect(specProblems(apps)).toEqual([]);
    for (const app of apps) expect(Object.keys(app.spec).length, app.name).toBeGreaterThan(0);
  });

  it.each(readManifestApps(ROOT).map((app) => [app.name]))(
    "%s's .env.example, loaded as it stands, gives the defaults",
    (name) => {
      const app = apps.find((entry) => entry.name === name) as AppSpec;
      const example = readFileSync(join(ROOT, 'apps', name, '.env.example'), 'utf8');
      expect(loadConfig(app.spec, assignments(example))).toEqual(loadConfig(app.spec, {}));
      for (const key of Object.keys(app.spec)) expect(example, key).toMatch(new RegExp(`^(# )?${key}=`, 'm'));
    },
  );

  it('show no value of a secret key but its default (none has one but REDIS_URL, without credentials)', () => {
    for (const app of apps) {
      const example = assignments(readFileSync(join(ROOT, 'apps', app.name, '.env.example'), 'utf8'));
      for (const [key, variable] of Object.entries(app.spec)) {
        if (!variable.secret || example[key] === undefined) continue;
        expect(defaultOf(key, variable), `${app.name} ${key}`).toEqual({ kind: 'value', text: example[key] });
        expect(new URL(example[key] as string).password, key).toBe('');
      }
    }
  });

  it('find a drifted file, and pnpm docs:config --check agrees with this test', () => {
    const drifted = plan(ROOT, apps).map((file) =>
      file.path === README ? { ...file, current: `${file.current}\n` } : file,
    );
    expect(drifted.filter((file) => file.current !== file.expected).map((file) => file.path)).toEqual([
      README,
    ]);
    const check = spawnSync('pnpm', ['--silent', 'run', 'generate', '--check'], {
      cwd: fileURLToPath(new URL('..', import.meta.url)),
      encoding: 'utf8',
    });
    expect(check.stderr).toBe('');
    expect(check.status).toBe(0);
  });
});

describe('documenting a key', () => {
  it('refuses a key without a doc, a computed default without its text, and a secret example with a value', () => {
    expect(docProblem('A', { parse: String })).toMatch(/A has no doc/);
    expect(docProblem('B', { parse: String, doc: 'b', fallback: () => '/abs/dir' })).toMatch(
      /B: its fallback computes a value, so it needs a defaultText/,
    );
    expect(
      docProblem('C', {
        parse: String,
        doc: 'c',
        secret: true,
        fallback: () => undefined,
        example: 'hunter2',
      }),
    ).toMatch(/C is a secret: its example must show placeholders/);
    expect(
      docProblem('D', {
        parse: String,
        doc: 'd',
        secret: true,
        fallback: () => undefined,
        example: '<token>',
      }),
    ).toBeUndefined();
  });

  it('lays a table out as biome does, escaping pipes', () => {
    expect(renderTable(['key', 'default'], [['`A`', '"x" | "y"']])).toBe(
      ['| key | default    |', '| --- | ---------- |', '| `A` | "x" \\| "y" |'].join('\n'),
    );
  });

  it('says which markers a README lacks', () => {
    expect(() => replaceMarked('no markers', 'common', 'table', 'README.md')).toThrow(
      'README.md has no <!-- config:common:start --> … <!-- config:common:end --> markers',
    );
  });
});
