import { describe, expect, it } from 'vitest';
import { MINUTE_MS, perMinuteSeries } from '../src/per-minute.js';

const at = (minute: number, second = 0) => minute * MINUTE_MS + second * 1_000;

describe('perMinuteSeries', () => {
  it('is all zeros before any job finished', () => {
    expect(perMinuteSeries({ meta: { count: 0, prevTS: 0, prevCount: 0 }, data: [] }, at(1_000), 5)).toEqual([
      0, 0, 0, 0, 0,
    ]);
  });

  it("puts the current minute's jobs (not yet in the list) at the right, and the list before them", () => {
    // Last flush in minute 1000; since then 4 jobs; the list holds minutes 999, 998, 997.
    const metrics = { meta: { count: 20, prevTS: at(1_000, 10), prevCount: 16 }, data: [2, 0, 5] };
    expect(perMinuteSeries(metrics, at(1_000, 50), 5)).toEqual([0, 5, 0, 2, 4]);
  });

  it('shifts everything left by the quiet minutes since the last job', () => {
    const metrics = { meta: { count: 20, prevTS: at(1_000, 10), prevCount: 16 }, data: [2, 0, 5] };
    // Three minutes later, no job since: the minute of the last jobs is 3 from the right.
    expect(perMinuteSeries(metrics, at(1_003, 1), 6)).toEqual([0, 2, 4, 0, 0, 0]);
  });

  it('leaves out what is older than the window', () => {
    const metrics = { meta: { count: 9, prevTS: at(1_000), prevCount: 9 }, data: [1, 1, 1, 1, 1, 1, 1] };
    expect(perMinuteSeries(metrics, at(1_000), 3)).toEqual([1, 1, 0]);
    expect(perMinuteSeries(metrics, at(1_100), 3)).toEqual([0, 0, 0]);
  });
});
