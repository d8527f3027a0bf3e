import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { emails } from '@jobfleet/queue-contracts';
import { workerContractSuite } from '@jobfleet/test-utils';
import { afterAll } from 'vitest';
import { startInProcessWorker } from './start-worker.js';

const outboxDir = mkdtempSync(join(tmpdir(), 'email-contract-'));
afterAll(() => rmSync(outboxDir, { recursive: true, force: true }));

workerContractSuite({
  contract: emails,
  valid: { name: 'welcome', data: { userId: 1, to: 'ada@example.com', name: 'Ada' } },
  invalid: { name: 'welcome', data: { userId: 1, to: 'not an address', extra: true } },
  async start({ redisUrl, prefix, wrap }) {
    const worker = await startInProcessWorker({ redisUrl, prefix, outboxDir, wrap });
    return { close: async () => void (await worker.close()) };
  },
});
