import { describe, expect, it } from 'vitest';
import { formatTable, passed, type ScenarioResult } from '../src/result.js';

const row = (changes: Partial<ScenarioResult>): ScenarioResult => ({
  scenario: 'x',
  accepted: 10,
  delivered: 10,
  lost: 0,
  duplicated: 0,
  serverErrors: 0,
  slowestMs: 120,
  recoveryMs: 1_500,
  failures: [],
  notes: [],
  ...changes,
});

describe('a scenario passes', () => {
  it('only without a lost job, a duplicate, a 5xx or a failed check', () => {
    expect(passed(row({}))).toBe(true);
    expect(passed(row({ lost: 1, delivered: 9 }))).toBe(false);
    expect(passed(row({ duplicated: 1 }))).toBe(false);
    expect(passed(row({ serverErrors: 1 }))).toBe(false);
    expect(passed(row({ failures: ['readiness still 200'] }))).toBe(false);
  });

  it('the table has one line per scenario, its figures and its result, then failures and notes', () => {
    const table = formatTable([
      row({ scenario: 'calm' }),
      row({ scenario: 'stormy', duplicated: 2, notes: ['why'] }),
    ]);
    const lines = table.split('\n');
    expect(lines[0]).toMatch(
      /^\| scenario +\| accepted \| delivered \| lost \| duplicated \| 5xx \| slowest answer \| recovery time \| result \|$/,
    );
    expect(lines[2]).toMatch(
      /^\| calm +\| +10 \| +10 \| +0 \| +0 \| +0 \| +0\.12 s \| +1\.50 s \| +pass \|$/,
    );
    expect(lines[3]).toMatch(/\| +2 \|.*\| +FAIL \|$/);
    expect(table).toContain('- stormy: why');
  });
});
