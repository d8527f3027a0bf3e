import { describe, expect, it } from 'vitest';
import { freePort } from '../src/free-port.js';

describe('freePort', () => {
  it('never hands out a port twice, though the kernel offers closed probe ports again', async () => {
    // 1,000 draws from Linux's ~28,000 ephemeral ports repeat some ports almost surely.
    const ports: number[] = [];
    for (let i = 0; i < 1_000; i++) ports.push(await freePort());
    expect(new Set(ports).size).toBe(ports.length);
  });
});
