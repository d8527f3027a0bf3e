import { useTestRedis } from '@jobfleet/test-utils';
import { describe, expect, it } from 'vitest';
import { createRedisDeliveryLedger, ledgerKey } from '../src/delivery-ledger.js';

const redis = useTestRedis();
const job = { queue: 'emails', jobId: 'welcome:42/x', createdAt: 1_700_000_000_000 };
const delivery = {
  messageId: '<emails.welcome=3A42=2Fx.1700000000000@jobfleet.local>',
  transport: 'smtp' as const,
  deliveredAt: '2026-01-01T00:00:00.000Z',
  response: '250 OK: queued',
};

describe('Redis delivery ledger', () => {
  it('keys a record by queue, creation time and job id, under the prefix and outside the queue key space', () => {
    expect(ledgerKey('jobfleet', job)).toBe('jobfleet:email-ledger:emails:1700000000000:welcome:42/x');
    expect(ledgerKey('{jf}', job).startsWith('{jf}:email-ledger:')).toBe(true);
  });

  it('records a delivery with an expiry and finds it again; another creation time is another job', async () => {
    const connection = redis.connection();
    const ledger = createRedisDeliveryLedger({ connection, prefix: redis.prefix, ttlMs: 60_000 });
    expect(await ledger.lookup(job)).toBeUndefined();
    await ledger.record(job, delivery);
    expect(await ledger.lookup(job)).toEqual(delivery);
    const ttl = await connection.pttl(ledgerKey(redis.prefix, job));
    expect(ttl).toBeGreaterThan(55_000);
    expect(ttl).toBeLessThanOrEqual(60_000);
    // The same custom id, added again after the first job was removed: not delivered yet.
    expect(await ledger.lookup({ ...job, createdAt: job.createdAt + 1 })).toBeUndefined();
  });

  it('takes a record it cannot read as "delivered", never as "send again"', async () => {
    const connection = redis.connection();
    const ledger = createRedisDeliveryLedger({ connection, prefix: redis.prefix, ttlMs: 60_000 });
    await connection.set(ledgerKey(redis.prefix, job), 'not json');
    expect(await ledger.lookup(job)).toEqual({ messageId: '', transport: 'smtp', deliveredAt: '' });
  });
});
