import { describe, expect, it } from 'vitest';
import {
  announcesEnding,
  CALLBACK_OPTION,
  callbackOf,
  validate,
  WebhooksDeliverData,
  webhookDeliveryFor,
  webhookDeliveryId,
  webhooks,
  withCallback,
  withOrigin,
} from '../src/index.js';

const opts = withCallback(withOrigin({ attempts: 3 }, { client: 'shop', tenant: 'acme' }), {
  url: 'https://example.com/hook',
});

describe('completion webhook deliveries', () => {
  it('record the callback beside the origin, outside the payload', () => {
    expect(opts).toMatchObject({ [CALLBACK_OPTION]: { url: 'https://example.com/hook' } });
    expect(callbackOf({ opts })).toEqual({ url: 'https://example.com/hook' });
    expect(callbackOf({ opts: {} })).toBeUndefined();
  });

  it('build one valid delivery per job and kind of ending, carrying the origin', () => {
    const job = { id: 'a:b', name: 'welcome', opts, finishedOn: 1_796_000_000_000, returnvalue: { ok: 1 } };
    const delivery = webhookDeliveryFor('emails', job, 'job.completed');
    expect(delivery?.opts.jobId).toBe('emails.a%3Ab.completed');
    expect(delivery?.opts.jobId).toBe(webhookDeliveryId('emails', 'a:b', 'job.completed'));
    expect(delivery?.opts).toMatchObject({ jobfleet: { client: 'shop', tenant: 'acme' }, attempts: 13 });
    expect(delivery?.data).toEqual({
      url: 'https://example.com/hook',
      event: {
        type: 'job.completed',
        timestamp: '2026-11-30T00:53:20.000Z',
        data: {
          queue: 'emails',
          id: 'a:b',
          name: 'welcome',
          result: { ok: 1 },
          finishedAt: '2026-11-30T00:53:20.000Z',
        },
      },
    });
    expect(validate(WebhooksDeliverData, delivery?.data).ok).toBe(true);
    const cancelled = webhookDeliveryFor('emails', { ...job, returnvalue: undefined }, 'job.cancelled');
    expect(cancelled?.data.event.data).toMatchObject({ failedReason: 'cancelled on request' });
    expect(cancelled?.data.event.data).not.toHaveProperty('result');
  });

  it('none for jobs without a callback or origin, and never for deliveries themselves', () => {
    const job = { id: '1', name: 'deliver', opts };
    expect(webhookDeliveryFor(webhooks.name, job, 'job.failed')).toBeUndefined();
    expect(
      webhookDeliveryFor('emails', { ...job, opts: withOrigin({}, { client: 'x' }) }, 'job.failed'),
    ).toBeUndefined();
    expect(
      webhookDeliveryFor(
        'emails',
        { ...job, opts: withCallback({}, { url: 'https://e.com' }) },
        'job.failed',
      ),
    ).toBeUndefined();
  });

  it('announce an ending exactly when there is a delivery for it', () => {
    const shapes = [
      ['emails', { id: '1', name: 'welcome', opts }],
      ['emails', { id: undefined, name: 'welcome', opts }],
      [webhooks.name, { id: '1', name: 'deliver', opts }],
      ['emails', { id: '1', name: 'welcome', opts: withOrigin({}, { client: 'x' }) }],
      ['emails', { id: '1', name: 'welcome', opts: withCallback({}, { url: 'https://e.com' }) }],
      ['emails', { id: '1', name: 'welcome', opts: {} }],
    ] as const;
    const announced = shapes.map(([queue, job]) => announcesEnding(queue, job));
    expect(announced).toEqual([true, false, false, false, false, false]);
    for (const [i, [queue, job]] of shapes.entries()) {
      expect(webhookDeliveryFor(queue, job, 'job.completed') !== undefined).toBe(announced[i]);
    }
  });
});
