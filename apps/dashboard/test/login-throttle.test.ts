import { expect, it } from 'vitest';
import { LoginThrottle } from '../src/login-throttle.js';

it('locks a name for one address after maxFailures, until lockoutMs after the last failure', () => {
  let now = 0;
  const throttle = new LoginThrottle({ maxFailures: 3, lockoutMs: 1_000, now: () => now });
  for (let i = 0; i < 3; i += 1) {
    expect(throttle.retryAfterMs('1.1.1.1', 'ops')).toBe(0);
    throttle.recordFailure('1.1.1.1', 'ops');
    now += 100;
  }
  // Failures at 0, 100 and 200 ms: locked until 1200 ms; it is 300 ms now.
  expect(throttle.retryAfterMs('1.1.1.1', 'ops')).toBe(900);
  expect(throttle.retryAfterMs('1.1.1.1', 'OPS')).toBe(900);
  expect(throttle.retryAfterMs('2.2.2.2', 'ops')).toBe(0);
  expect(throttle.retryAfterMs('1.1.1.1', 'someone-else')).toBe(0);
  now += 900;
  expect(throttle.retryAfterMs('1.1.1.1', 'ops')).toBe(0);
});

it('also locks an address that tries many names, and a success clears only its own name', () => {
  const now = 0;
  const throttle = new LoginThrottle({ maxFailures: 2, lockoutMs: 1_000, now: () => now });
  // Locked first, so the success is seen to clear something.
  throttle.recordFailure('1.1.1.1', 'a');
  throttle.recordFailure('1.1.1.1', 'a');
  expect(throttle.retryAfterMs('1.1.1.1', 'a')).toBeGreaterThan(0);
  throttle.recordSuccess('1.1.1.1', 'a');
  expect(throttle.retryAfterMs('1.1.1.1', 'a')).toBe(0);
  // The success leaves the address's count (2 of 8); six more names reach its limit.
  for (const name of ['b', 'c', 'd', 'e', 'f', 'g']) throttle.recordFailure('1.1.1.1', name);
  expect(throttle.retryAfterMs('1.1.1.1', 'z')).toBe(1_000);
  expect(throttle.retryAfterMs('3.3.3.3', 'z')).toBe(0);
});

it('keeps memory bounded under a flood of addresses', () => {
  const throttle = new LoginThrottle({ maxFailures: 1, lockoutMs: 60_000, maxEntries: 100 });
  for (let i = 0; i < 1_000; i += 1) throttle.recordFailure(`10.0.${Math.floor(i / 256)}.${i % 256}`, 'ops');
  // The newest are still locked; the oldest were let go.
  expect(throttle.retryAfterMs('10.0.3.231', 'ops')).toBeGreaterThan(0);
  expect(throttle.retryAfterMs('10.0.0.0', 'ops')).toBe(0);
});
