import { describe, expectTypeOf, it } from 'vitest';
import { createClient, type JobStatus } from '../src/index.js';

const client = createClient({ baseUrl: 'http://127.0.0.1:1', apiKey: 'unused' });

// Never called: this file is only type-checked (vitest typecheck and `check-types`).
describe('enqueue is typed by the catalog', () => {
  it('accepts every job of the catalog with its payload', () => {
    void client.enqueue('emails', 'welcome', { userId: 1, to: 'ada@example.com' });
    void client.enqueue('emails', 'password-reset', {
      userId: 'u-1',
      to: 'ada@example.com',
      resetUrl: 'https://example.com/reset',
    });
    void client.enqueue('reports', 'daily-report', { tenantId: 'acme', date: '2025-01-31', format: 'csv' });
    void client.enqueueBatch('emails', [
      { name: 'welcome', data: { userId: 1, to: 'ada@example.com' } },
      { name: 'notification', data: { to: 'ada@example.com', subject: 'Hi', text: 'Hello' } },
    ]);
  });

  it('refuses unknown queues, wrong job names and wrong payloads', () => {
    // @ts-expect-error no such queue
    void client.enqueue('sms', 'welcome', { userId: 1, to: 'ada@example.com' });
    // @ts-expect-error the reports queue has no welcome job
    void client.enqueue('reports', 'welcome', { userId: 1, to: 'ada@example.com' });
    // @ts-expect-error welcome needs data.to
    void client.enqueue('emails', 'welcome', { userId: 1 });
    // @ts-expect-error userId is a string or a number
    void client.enqueue('emails', 'welcome', { userId: true, to: 'ada@example.com' });
    // @ts-expect-error unknown fields are refused
    void client.enqueue('emails', 'welcome', { userId: 1, to: 'ada@example.com', cc: 'x@example.com' });
    void client.enqueue(
      'emails',
      'welcome',
      { userId: 1, to: 'a@b.co' },
      // @ts-expect-error backoff types are fixed or exponential
      { backoff: { type: 'linear', delay: 1 } },
    );
    void client.enqueueBatch('emails', [
      // @ts-expect-error a batch job's data must fit its name
      { name: 'notification', data: { userId: 1, to: 'ada@example.com' } },
    ]);
  });

  it('types a job by its name', () => {
    expectTypeOf(client.getJob('reports', 'id')).resolves.toEqualTypeOf<JobStatus<'reports'>>();
    type Report = JobStatus<'reports'>;
    expectTypeOf<Report['name']>().toEqualTypeOf<'daily-report'>();
    expectTypeOf<Report['data']['format']>().toEqualTypeOf<'csv' | 'pdf' | undefined>();
  });
});
