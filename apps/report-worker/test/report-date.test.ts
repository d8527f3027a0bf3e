import { describe, expect, it } from 'vitest';
import { dayIn, dueTime, previousDay, yesterdayIn } from '../src/report-date.js';

describe('report dates', () => {
  it('takes yesterday in the configured zone, not in UTC', () => {
    const at = Date.parse('2026-03-15T02:00:00Z');
    expect(yesterdayIn('UTC', at)).toBe('2026-03-14');
    // 19:00 on the 14th in Los Angeles (PDT), so yesterday is the 13th.
    expect(yesterdayIn('America/Los_Angeles', at)).toBe('2026-03-13');
    // 11:00 on the 15th in Tokyo.
    expect(yesterdayIn('Asia/Tokyo', at)).toBe('2026-03-14');
    expect(yesterdayIn('Pacific/Kiritimati', Date.parse('2026-03-14T10:30:00Z'))).toBe('2026-03-14');
  });

  it('steps back over month, year and leap-day boundaries', () => {
    expect(previousDay('2026-03-01')).toBe('2026-02-28');
    expect(previousDay('2024-03-01')).toBe('2024-02-29');
    expect(previousDay('2026-01-01')).toBe('2025-12-31');
    expect(dayIn('Europe/Berlin', Date.parse('2026-03-29T22:30:00Z'))).toBe('2026-03-30');
  });

  it('reckons from when the job became due: added plus its delay', () => {
    expect(dueTime({ timestamp: 1_000, opts: {} })).toBe(1_000);
    expect(dueTime({ timestamp: 1_000, opts: { delay: 500 } })).toBe(1_500);
  });
});
