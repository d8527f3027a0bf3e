import type { emails } from '@jobfleet/queue-contracts';
import { describe, expectTypeOf, it } from 'vitest';
import type { HandlerMap } from '../src/index.js';

const delivered = { messageId: '<1@x>', transport: 'outbox' as const };

describe('HandlerMap', () => {
  it('types each handler by the catalog', () => {
    const handlers: HandlerMap<typeof emails> = {
      welcome: async (data) => {
        expectTypeOf(data.to).toEqualTypeOf<string>();
        expectTypeOf(data.userId).toEqualTypeOf<string | number>();
        expectTypeOf(data.name).toEqualTypeOf<string | undefined>();
        return delivered;
      },
      'password-reset': async (data) => {
        expectTypeOf(data.resetUrl).toEqualTypeOf<string>();
        return delivered;
      },
      notification: async () => delivered,
    };
    expectTypeOf(handlers).toHaveProperty('welcome');
  });

  it('makes a missing handler, an unknown name or a wrong result a compile error', () => {
    // @ts-expect-error: 'notification' has no handler
    const missing: HandlerMap<typeof emails> = {
      welcome: async () => delivered,
      'password-reset': async () => delivered,
    };
    const unknown: HandlerMap<typeof emails> = {
      welcome: async () => delivered,
      'password-reset': async () => delivered,
      notification: async () => delivered,
      // @ts-expect-error: the contract has no job 'goodbye'
      goodbye: async () => delivered,
    };
    const wrongResult: HandlerMap<typeof emails> = {
      // @ts-expect-error: a welcome handler must return an EmailResult
      welcome: async () => ({ sent: true }),
      'password-reset': async () => delivered,
      notification: async () => delivered,
    };
    expectTypeOf([missing, unknown, wrongResult]).toBeArray();
  });
});
