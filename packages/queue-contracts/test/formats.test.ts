import { Ajv } from 'ajv';
import type { TSchema } from 'typebox';
import { describe, expect, it } from 'vitest';
import {
  addFormatsToAjv,
  ajvOptions,
  catalog,
  DeadLetterRecord,
  toValidationIssues,
  validate,
} from '../src/index.js';

const ajv = addFormatsToAjv(new Ajv({ ...ajvOptions, strict: false }));

const strings = [
  'ada@example.com',
  'a.b+tag@sub.example.co.uk',
  'no-at-sign',
  'two@@example.com',
  '"quoted local"@example.com',
  'ünïcode@example.com',
  'trailing.dot.@example.com',
  'user@[127.0.0.1]',
  'https://example.com/reset?token=abc#x',
  'http://localhost:3000/a b',
  'javascript:alert(1)',
  'mailto:ada@example.com',
  'ftp://example.com/file',
  '//example.com',
  '2026-02-28',
  '2024-02-29',
  '2026-02-29',
  '2026-13-01',
  '2026-1-01',
  '2026-11-28T14:07:07Z',
  '2026-11-28T14:07:07.123+01:00',
  '2026-11-28 14:07:07',
  '',
  ' ',
  'x'.repeat(300),
  'acme',
  'ACME',
];

/** Every string of the list in every string-typed slot of a valid sample, plus type mix-ups. */
function variants(sample: Record<string, unknown>): unknown[] {
  const out: unknown[] = [sample, {}, null, [], 'text', 42, { ...sample, extra: 1 }];
  for (const key of Object.keys(sample)) {
    for (const value of [...strings, 0, -1, 1.5, 2 ** 60, true, null, [], {}]) {
      out.push({ ...sample, [key]: value });
    }
    const { [key]: _removed, ...without } = sample;
    out.push(without);
  }
  return out;
}

function agreement(schema: TSchema, values: unknown[]) {
  const check = ajv.compile(schema);
  for (const value of values) {
    const typebox = validate(schema, value).ok;
    const gateway = check(value);
    expect({ value, gateway }).toEqual({ value, gateway: typebox });
  }
}

describe('string formats and schemas', () => {
  for (const queue of Object.values(catalog)) {
    for (const [name, job] of Object.entries(queue.jobs)) {
      it(`${queue.name}/${name}: ajv (gateway) and TypeBox (worker) agree on every payload`, () => {
        const sample = job.example as Record<string, unknown> | undefined;
        expect(sample, `the contract's example payload for ${name}`).toBeDefined();
        expect(validate(job.data, sample).ok).toBe(true);
        agreement(job.data, variants(sample ?? {}));
      });
    }
  }

  it('dead-letter records: ajv and TypeBox agree', () => {
    const record = {
      queue: 'emails',
      jobId: '1',
      jobName: 'welcome',
      data: { anything: true },
      options: { attempts: 5 },
      failedReason: 'boom',
      stacktrace: ['Error: boom'],
      attemptsMade: 5,
      enqueuedAt: '2026-11-28T14:07:07.000Z',
      failedAt: '2026-11-28T14:07:09.000Z',
    };
    expect(validate(DeadLetterRecord, record).ok).toBe(true);
    agreement(DeadLetterRecord, variants(record));
  });

  it('rejects unknown properties and names the path', () => {
    const result = validate(catalog.emails.jobs.welcome.data, { userId: 1, to: 'a@b.co', admin: true });
    expect(result.ok).toBe(false);
    expect(result).toEqual({
      ok: false,
      issues: [{ path: '/admin', message: 'is not an allowed property' }],
    });
    const check = ajv.compile(catalog.emails.jobs.welcome.data);
    check({ userId: 1, to: 'a@b.co', admin: true });
    expect(toValidationIssues(check.errors ?? [])).toEqual(result.ok ? [] : result.issues);
    const bad = validate(catalog.emails.jobs.welcome.data, { userId: 1, to: 'not an address' });
    expect(bad).toMatchObject({ ok: false, issues: [expect.objectContaining({ path: '/to' })] });
  });

  it('reports a missing property at its own path, from ajv and TypeBox alike', () => {
    const schema = catalog.emails.jobs.welcome.data;
    const result = validate(schema, { name: 'Ada' });
    const expected = [
      { path: '/userId', message: 'is required' },
      { path: '/to', message: 'is required' },
    ];
    expect(result).toEqual({ ok: false, issues: expected });
    const check = ajv.compile(schema);
    check({ name: 'Ada' });
    expect(toValidationIssues(check.errors ?? [])).toEqual(expected);
  });

  it('a reset link must be http(s)', () => {
    const data = { userId: 1, to: 'a@b.co', resetUrl: 'javascript:alert(1)' };
    expect(validate(catalog.emails.jobs['password-reset'].data, data).ok).toBe(false);
  });
});
